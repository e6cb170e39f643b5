ALTER TABLE changes DROP COLUMN rollback_url;
ALTER TABLE changes DROP COLUMN rollback_plan;
ALTER TABLE changes DROP COLUMN version;
