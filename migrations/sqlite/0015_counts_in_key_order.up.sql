-- PostgreSQL's count trigger changes its rows in key order from this migration; SQLite
-- writes one at a time, so its triggers cannot deadlock. Kept so both engines' versions
-- stay equal.
SELECT 1;
