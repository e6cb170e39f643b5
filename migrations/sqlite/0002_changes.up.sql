-- Changes, milestones, failure modes, risk acceptances, sign-offs, team policy and the
-- evidence the gate reads (the latest result per test id, and results bound to a
-- failure mode directly).
ALTER TABLE teams ADD COLUMN failure_window_days INTEGER NOT NULL DEFAULT 30;
ALTER TABLE teams ADD COLUMN freshness_days INTEGER NOT NULL DEFAULT 14;
ALTER TABLE teams ADD COLUMN min_failure_modes INTEGER NOT NULL DEFAULT 3;
ALTER TABLE teams ADD COLUMN allow_high_acceptance INTEGER NOT NULL DEFAULT 0 CHECK (allow_high_acceptance IN (0, 1));
-- The last change number handed out; incremented in the creating transaction.
ALTER TABLE teams ADD COLUMN last_change_number INTEGER NOT NULL DEFAULT 0;

CREATE TABLE changes (
    id              INTEGER PRIMARY KEY,
    team_id         INTEGER NOT NULL REFERENCES teams (id),
    number          INTEGER NOT NULL,
    title           TEXT    NOT NULL,
    summary         TEXT    NOT NULL DEFAULT '',
    types           TEXT    NOT NULL DEFAULT '',
    ticket_url      TEXT,
    pr_url          TEXT,
    design_url      TEXT,
    author_id       INTEGER NOT NULL REFERENCES users (id),
    status          TEXT    NOT NULL CHECK (status IN ('draft', 'happy_path_working', 'failure_cases_complete', 'regressed', 'cancelled')),
    happy_path_at   INTEGER,
    happy_path_by   INTEGER REFERENCES users (id),
    happy_path_note TEXT,
    target_at       INTEGER,
    signed_off_at   INTEGER,
    last_fm_number  INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    UNIQUE (team_id, number)
);
CREATE INDEX changes_by_team_status ON changes (team_id, status);

-- Designs (JSON list of {title, url}) and selectors (JSON list of patterns) are always read
-- and written with their failure mode, so they live in it.
CREATE TABLE failure_modes (
    id            INTEGER PRIMARY KEY,
    change_id     INTEGER NOT NULL REFERENCES changes (id),
    number        INTEGER NOT NULL,
    title         TEXT    NOT NULL,
    scenario      TEXT    NOT NULL DEFAULT '',
    effect        TEXT    NOT NULL DEFAULT '',
    detection     TEXT    NOT NULL DEFAULT '',
    severity      INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 5),
    likelihood    INTEGER NOT NULL CHECK (likelihood BETWEEN 1 AND 5),
    detectability INTEGER NOT NULL CHECK (detectability BETWEEN 1 AND 5),
    designs       TEXT    NOT NULL DEFAULT '[]',
    selectors     TEXT    NOT NULL DEFAULT '[]',
    version       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (change_id, number)
);

CREATE TABLE risk_acceptances (
    id              INTEGER PRIMARY KEY,
    failure_mode_id INTEGER NOT NULL REFERENCES failure_modes (id),
    justification   TEXT    NOT NULL,
    accepted_by     INTEGER NOT NULL REFERENCES users (id),
    accepted_at     INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL
);
CREATE INDEX risk_acceptances_by_failure_mode ON risk_acceptances (failure_mode_id, accepted_at);

-- Immutable: a sign-off is history even after a regression.
CREATE TABLE sign_offs (
    id           INTEGER PRIMARY KEY,
    change_id    INTEGER NOT NULL REFERENCES changes (id),
    signed_by    INTEGER NOT NULL REFERENCES users (id),
    signed_at    INTEGER NOT NULL,
    snapshot     TEXT    NOT NULL,
    content_hash TEXT    NOT NULL
);
CREATE INDEX sign_offs_by_change ON sign_offs (change_id);
CREATE TRIGGER sign_offs_no_update BEFORE UPDATE ON sign_offs
BEGIN
    SELECT RAISE(ABORT, 'sign_offs are immutable');
END;
CREATE TRIGGER sign_offs_no_delete BEFORE DELETE ON sign_offs
BEGIN
    SELECT RAISE(ABORT, 'sign_offs are immutable');
END;

CREATE TABLE evidence_runs (
    id           INTEGER PRIMARY KEY,
    team_id      INTEGER NOT NULL REFERENCES teams (id),
    commit_sha   TEXT,
    branch       TEXT,
    pipeline_url TEXT,
    run_key      TEXT,
    received_at  INTEGER NOT NULL
);
CREATE INDEX evidence_runs_by_team ON evidence_runs (team_id, received_at);

CREATE TABLE evidence_latest (
    team_id     INTEGER NOT NULL REFERENCES teams (id),
    test_id     TEXT    NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('passed', 'failed', 'skipped', 'error')),
    duration_ms INTEGER,
    message     TEXT,
    run_id      INTEGER NOT NULL REFERENCES evidence_runs (id),
    at          INTEGER NOT NULL,
    PRIMARY KEY (team_id, test_id)
);

CREATE TABLE evidence_bindings (
    failure_mode_id INTEGER NOT NULL REFERENCES failure_modes (id),
    test_id         TEXT    NOT NULL,
    outcome         TEXT    NOT NULL CHECK (outcome IN ('passed', 'failed', 'skipped', 'error')),
    run_id          INTEGER NOT NULL REFERENCES evidence_runs (id),
    at              INTEGER NOT NULL,
    PRIMARY KEY (failure_mode_id, test_id)
);
