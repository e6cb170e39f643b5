-- What dashboards aggregate in SQL. Each failure mode keeps the facts its coverage is
-- derived from (written by the server whenever its selectors or the evidence change, see
-- ssr::coverage); rows from before this migration are derived at the next startup.
ALTER TABLE failure_modes ADD COLUMN priority_weight BIGINT NOT NULL DEFAULT 1;
ALTER TABLE failure_modes ADD COLUMN ev_failing BIGINT NOT NULL DEFAULT 0;
ALTER TABLE failure_modes ADD COLUMN ev_unmatched BIGINT NOT NULL DEFAULT 0;
ALTER TABLE failure_modes ADD COLUMN ev_oldest_at BIGINT;
ALTER TABLE failure_modes ADD COLUMN derived_at BIGINT;

-- One row per team and day: coverage of its open and signed-off changes, for the trend
-- chart. Bounded: pruned after a retention period.
CREATE TABLE coverage_daily (
    team_id          BIGINT NOT NULL REFERENCES teams (id),
    -- Days since the Unix epoch (UTC).
    day              BIGINT NOT NULL,
    failure_modes    BIGINT NOT NULL,
    covered          BIGINT NOT NULL,
    weighted_covered BIGINT NOT NULL,
    weighted_total   BIGINT NOT NULL,
    failing          BIGINT NOT NULL,
    stale            BIGINT NOT NULL,
    PRIMARY KEY (team_id, day)
);

CREATE INDEX changes_by_target ON changes (status, target_at);
