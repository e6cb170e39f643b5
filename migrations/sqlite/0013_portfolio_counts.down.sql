DROP INDEX changes_without_target;
DROP INDEX changes_closed_by_target;
DROP INDEX changes_open_by_target;
CREATE INDEX changes_by_target ON changes (status, target_at);
DROP TRIGGER changes_counts_update;
DROP TRIGGER changes_counts_delete;
DROP TRIGGER changes_counts_insert;
DROP TABLE cycle_counts;
DROP TABLE change_counts;
