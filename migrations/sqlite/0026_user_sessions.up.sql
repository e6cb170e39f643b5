-- The sessions a user is signed in with, for the account page's list and its sign-outs (the
-- session store keeps only opaque records). A session names its row by `handle`; a session
-- whose row is gone is signed out at its next request.
CREATE TABLE user_sessions (
    id           INTEGER PRIMARY KEY,
    handle       TEXT    NOT NULL UNIQUE,
    user_id      INTEGER NOT NULL REFERENCES users (id),
    -- The user's session epoch it began under: a password change or disabling ends it.
    epoch        INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    client       TEXT    NOT NULL,
    user_agent   TEXT    NOT NULL
);
CREATE INDEX user_sessions_by_user ON user_sessions (user_id);
CREATE INDEX user_sessions_by_last_seen ON user_sessions (last_seen_at);
