-- Each change's coverage counts as its gate last settled them (app::ssr::gates::settle),
-- so that the portfolio reads them instead of aggregating every failure mode. They hold
-- until cov_until (Unix ms): the first moment time alone moves one of its failure modes
-- (evidence going stale, an acceptance running out). Past it, readers aggregate live and
-- the sweeper settles the change again. 0 (every change from before this migration) is
-- always past.
ALTER TABLE changes ADD COLUMN cov_verified BIGINT NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN cov_accepted BIGINT NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN cov_stale BIGINT NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN cov_failing BIGINT NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN cov_designed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN cov_uncovered BIGINT NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN cov_weight_total BIGINT NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN cov_weight_covered BIGINT NOT NULL DEFAULT 0;
ALTER TABLE changes ADD COLUMN cov_until BIGINT NOT NULL DEFAULT 0;
CREATE INDEX changes_cov_until ON changes (cov_until);
