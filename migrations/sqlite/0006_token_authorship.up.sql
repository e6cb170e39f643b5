-- Four eyes mean people, not tokens: a change registered through an API token records the
-- token and has no human author until a member of the team claims it. `author_id` becomes
-- nullable, which SQLite can only do by rebuilding the table. Foreign keys stay on: the
-- deferred check sees every reference to `changes` satisfied again when the rows are back.
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE changes_copy AS SELECT * FROM changes;
DROP TABLE changes;
CREATE TABLE changes (
    id               INTEGER PRIMARY KEY,
    team_id          INTEGER NOT NULL REFERENCES teams (id),
    number           INTEGER NOT NULL,
    title            TEXT    NOT NULL,
    summary          TEXT    NOT NULL DEFAULT '',
    types            TEXT    NOT NULL DEFAULT '',
    ticket_url       TEXT,
    pr_url           TEXT,
    design_url       TEXT,
    author_id        INTEGER REFERENCES users (id),
    created_by_token INTEGER REFERENCES api_tokens (id),
    status           TEXT    NOT NULL CHECK (status IN ('draft', 'happy_path_working', 'failure_cases_complete', 'regressed', 'cancelled')),
    happy_path_at    INTEGER,
    happy_path_by    INTEGER REFERENCES users (id),
    happy_path_note  TEXT,
    target_at        INTEGER,
    signed_off_at    INTEGER,
    last_fm_number   INTEGER NOT NULL DEFAULT 0,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL,
    UNIQUE (team_id, number),
    -- Every change was registered by a person or by a token.
    CHECK (author_id IS NOT NULL OR created_by_token IS NOT NULL)
);
INSERT INTO changes (id, team_id, number, title, summary, types, ticket_url, pr_url, design_url,
                     author_id, status, happy_path_at, happy_path_by, happy_path_note, target_at,
                     signed_off_at, last_fm_number, created_at, updated_at)
SELECT id, team_id, number, title, summary, types, ticket_url, pr_url, design_url,
       author_id, status, happy_path_at, happy_path_by, happy_path_note, target_at,
       signed_off_at, last_fm_number, created_at, updated_at
FROM changes_copy;
DROP TABLE changes_copy;
CREATE INDEX changes_by_team_status ON changes (team_id, status);
CREATE INDEX changes_by_target ON changes (status, target_at);
