-- API tokens for CI, idempotent ingestion, bounded result history and public badges.
CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    team_id      INTEGER NOT NULL REFERENCES teams (id),
    name         TEXT    NOT NULL,
    -- The first characters of the token, shown so people can tell tokens apart.
    prefix       TEXT    NOT NULL,
    -- SHA-256 of the whole token; the token itself is shown once and never stored.
    token_hash   TEXT    NOT NULL UNIQUE,
    scopes       TEXT    NOT NULL,
    created_by   INTEGER REFERENCES users (id),
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER
);
CREATE INDEX api_tokens_by_team ON api_tokens (team_id);

-- The reply to each upload by (token, Idempotency-Key), so a retry gets the same answer.
CREATE TABLE idempotency_keys (
    token_id     INTEGER NOT NULL REFERENCES api_tokens (id),
    key          TEXT    NOT NULL,
    request_hash TEXT    NOT NULL,
    status       INTEGER NOT NULL,
    reply        TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    PRIMARY KEY (token_id, key)
);

-- Results over time, kept only for tests some failure mode selects.
CREATE TABLE evidence_history (
    id      INTEGER PRIMARY KEY,
    team_id INTEGER NOT NULL REFERENCES teams (id),
    test_id TEXT    NOT NULL,
    outcome TEXT    NOT NULL CHECK (outcome IN ('passed', 'failed', 'skipped', 'error')),
    run_id  INTEGER NOT NULL REFERENCES evidence_runs (id),
    at      INTEGER NOT NULL
);
CREATE INDEX evidence_history_by_test ON evidence_history (team_id, test_id, at);
CREATE INDEX evidence_history_by_run ON evidence_history (run_id);

-- No REFERENCES here: SQLite cannot drop a column that is part of a foreign key.
ALTER TABLE evidence_runs ADD COLUMN token_id INTEGER;
ALTER TABLE evidence_runs ADD COLUMN passed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE evidence_runs ADD COLUMN failed INTEGER NOT NULL DEFAULT 0;
ALTER TABLE evidence_runs ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;
ALTER TABLE evidence_runs ADD COLUMN errored INTEGER NOT NULL DEFAULT 0;
ALTER TABLE teams ADD COLUMN public_badges INTEGER NOT NULL DEFAULT 0 CHECK (public_badges IN (0, 1));
