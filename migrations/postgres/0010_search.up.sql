-- Search (app::ssr::store::search): full-text indexes of changes (title, summary) and
-- failure modes (title, scenario). The expressions are the ones the search queries use.
CREATE INDEX changes_search ON changes USING GIN (to_tsvector('simple', title || ' ' || summary));
CREATE INDEX failure_modes_search ON failure_modes USING GIN (to_tsvector('simple', title || ' ' || scenario));
