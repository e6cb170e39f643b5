-- Search (app::ssr::store::search): the words of changes (title, summary) and failure modes
-- (title, scenario), kept by the database itself as generated columns, indexed.
ALTER TABLE changes ADD COLUMN search_words tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', title || ' ' || summary)) STORED;
CREATE INDEX changes_search ON changes USING GIN (search_words);
ALTER TABLE failure_modes ADD COLUMN search_words tsvector
    GENERATED ALWAYS AS (to_tsvector('simple', title || ' ' || scenario)) STORED;
CREATE INDEX failure_modes_search ON failure_modes USING GIN (search_words);
