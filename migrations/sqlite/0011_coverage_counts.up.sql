-- Each change's coverage counts as its gate last settled them (app::ssr::gates::settle),
-- so that the portfolio reads them instead of aggregating every failure mode. They hold
-- until cov_until (Unix ms): the first moment time alone moves one of its failure modes
-- (evidence going stale, an acceptance running out). Past it, readers aggregate live and
-- the sweeper settles the change again. 0 (every change from before this migration) is
-- always past.
ALTER TABLE changes ADD COLUMN cov_verified INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN cov_accepted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN cov_stale INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN cov_failing INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN cov_designed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN cov_uncovered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN cov_weight_total INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN cov_weight_covered INTEGER NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN cov_until INTEGER NOT NULL DEFAULT 0;
CREATE INDEX changes_cov_until ON changes (cov_until);
