DROP INDEX risk_acceptances_expiring;
ALTER TABLE risk_acceptances DROP COLUMN expiring_recorded;
ALTER TABLE changes DROP COLUMN overdue_for;
ALTER TABLE changes DROP COLUMN due_soon_for;
ALTER TABLE teams DROP COLUMN warning_days;
