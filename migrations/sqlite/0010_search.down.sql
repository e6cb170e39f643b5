DROP TRIGGER failure_modes_fts_update;
DROP TRIGGER failure_modes_fts_delete;
DROP TRIGGER failure_modes_fts_insert;
DROP TABLE failure_modes_fts;
DROP TRIGGER changes_fts_update;
DROP TRIGGER changes_fts_delete;
DROP TRIGGER changes_fts_insert;
DROP TABLE changes_fts;
