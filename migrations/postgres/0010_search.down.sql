DROP INDEX failure_modes_search;
ALTER TABLE failure_modes DROP COLUMN search_words;
DROP INDEX changes_search;
ALTER TABLE changes DROP COLUMN search_words;
