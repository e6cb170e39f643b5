-- Notices time records (app::ssr::gates::sweep), once per change and threshold: a target
-- date within the team's warning days, a target date passed, and a risk acceptance about to
-- run out. Each change keeps the target date it last announced, so a moved target is
-- announced again.
ALTER TABLE teams ADD COLUMN warning_days INTEGER NOT NULL DEFAULT 7;
ALTER TABLE changes ADD COLUMN due_soon_for INTEGER;
ALTER TABLE changes ADD COLUMN overdue_for INTEGER;
ALTER TABLE risk_acceptances ADD COLUMN expiring_recorded INTEGER NOT NULL DEFAULT 0;
CREATE INDEX risk_acceptances_expiring ON risk_acceptances (expires_at) WHERE expiring_recorded = 0;
-- What time crossed before this version counts as announced: an upgrade does not send a
-- burst of stale notices.
UPDATE changes SET overdue_for = target_at WHERE target_at <= CAST(strftime('%s', 'now') AS INTEGER) * 1000;
UPDATE changes SET due_soon_for = target_at WHERE target_at <= CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 7 * 86400000;
UPDATE risk_acceptances SET expiring_recorded = 1 WHERE expires_at <= CAST(strftime('%s', 'now') AS INTEGER) * 1000 + 3 * 86400000;
