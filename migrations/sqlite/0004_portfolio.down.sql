DROP INDEX changes_by_target;
DROP TABLE coverage_daily;
ALTER TABLE failure_modes DROP COLUMN derived_at;
ALTER TABLE failure_modes DROP COLUMN ev_oldest_at;
ALTER TABLE failure_modes DROP COLUMN ev_unmatched;
ALTER TABLE failure_modes DROP COLUMN ev_failing;
ALTER TABLE failure_modes DROP COLUMN priority_weight;
