-- SQLite's full-text tables gain an index of prefixes in this migration; PostgreSQL's GIN
-- indexes answer a prefix from their ordered words already. Kept so both engines' versions
-- stay equal.
SELECT 1;
