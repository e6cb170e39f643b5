-- A team's own failure-mode templates, beside the built-in catalogue (which lives in the
-- code, app/src/domain/catalogue.rs). Retired templates are kept: failure modes refer to them.
CREATE TABLE fm_templates (
    id            INTEGER PRIMARY KEY,
    team_id       INTEGER NOT NULL REFERENCES teams (id),
    change_type   TEXT NOT NULL,
    title         TEXT NOT NULL,
    scenario      TEXT NOT NULL DEFAULT '',
    effect        TEXT NOT NULL DEFAULT '',
    detection     TEXT NOT NULL DEFAULT '',
    -- Suggested designs and kinds of test, one per line.
    designs       TEXT NOT NULL DEFAULT '',
    tests         TEXT NOT NULL DEFAULT '',
    severity      INTEGER NOT NULL CHECK (severity BETWEEN 1 AND 5),
    likelihood    INTEGER NOT NULL CHECK (likelihood BETWEEN 1 AND 5),
    detectability INTEGER NOT NULL CHECK (detectability BETWEEN 1 AND 5),
    retired_at    INTEGER,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);
CREATE INDEX fm_templates_by_team ON fm_templates (team_id, change_type);

-- The template a failure mode started from (builtin:<id> or team:<id>), so its page can
-- show the template's suggested designs and tests.
ALTER TABLE failure_modes ADD COLUMN template TEXT;
