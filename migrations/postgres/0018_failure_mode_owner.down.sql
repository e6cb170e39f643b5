ALTER TABLE failure_modes DROP COLUMN owner;
