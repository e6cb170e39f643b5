DROP INDEX risk_acceptances_due;
ALTER TABLE risk_acceptances DROP COLUMN expiry_recorded;
ALTER TABLE changes DROP COLUMN gate_open;
