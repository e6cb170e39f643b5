-- Derived events (app::ssr::gates). Each open change stores its gate as last recorded, so
-- that its opening or closing is recorded once; NULL while the change is not open (and
-- for changes from before this migration, until the first sweep settles them).
ALTER TABLE changes ADD COLUMN gate_open INTEGER;
-- Whether an acceptance's expiry has been recorded; the sweeper finds the due ones by index.
ALTER TABLE risk_acceptances ADD COLUMN expiry_recorded INTEGER NOT NULL DEFAULT 0;
CREATE INDEX risk_acceptances_due ON risk_acceptances (expires_at) WHERE expiry_recorded = 0;
