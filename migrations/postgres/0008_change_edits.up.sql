-- A change's details can be edited while it is open: a version for optimistic locking
-- (two editors cannot silently overwrite each other), and a rollback plan (text and link).
ALTER TABLE changes ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE changes ADD COLUMN rollback_plan TEXT NOT NULL DEFAULT '';
ALTER TABLE changes ADD COLUMN rollback_url TEXT;
