-- Back to an author on every change: one registered by a token is given to the token's
-- owner, else to the first user.
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE changes_copy AS SELECT * FROM changes;
DROP TABLE changes;
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
INSERT INTO changes (id, team_id, number, title, summary, types, ticket_url, pr_url, design_url,
                     author_id, status, happy_path_at, happy_path_by, happy_path_note, target_at,
                     signed_off_at, last_fm_number, created_at, updated_at)
SELECT c.id, c.team_id, c.number, c.title, c.summary, c.types, c.ticket_url, c.pr_url, c.design_url,
       COALESCE(c.author_id, (SELECT created_by FROM api_tokens WHERE id = c.created_by_token),
                (SELECT MIN(id) FROM users)),
       c.status, c.happy_path_at, c.happy_path_by, c.happy_path_note, c.target_at,
       c.signed_off_at, c.last_fm_number, c.created_at, c.updated_at
FROM changes_copy c;
DROP TABLE changes_copy;
CREATE INDEX changes_by_team_status ON changes (team_id, status);
CREATE INDEX changes_by_target ON changes (status, target_at);
