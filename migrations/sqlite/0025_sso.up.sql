-- Single sign-on (issue 34). A user's identity at the OpenID provider is its issuer and
-- subject, never its email: an identity is linked at its first sign-in, either to a user
-- created then or to the local user an admin pre-linked by email (subject NULL until then).
CREATE TABLE identities (
    id              INTEGER PRIMARY KEY,
    user_id         INTEGER NOT NULL REFERENCES users (id),
    issuer          TEXT    NOT NULL,
    subject         TEXT,
    -- The pre-link's address, lowercased; kept after linking as the address it was confirmed by.
    email           TEXT,
    created_at      INTEGER NOT NULL,
    linked_at       INTEGER,
    last_sign_in_at INTEGER
);
CREATE UNIQUE INDEX identities_by_subject ON identities (issuer, subject);
-- One identity per user and provider; one pending pre-link per address.
CREATE UNIQUE INDEX identities_by_user ON identities (user_id, issuer);
CREATE UNIQUE INDEX identities_pending_by_email ON identities (issuer, email) WHERE subject IS NULL;

-- Which provider groups give which role in which team: applied at every sign-in. A membership
-- the mapping gave (by_sso) goes when no group of the user maps to its team any more; one
-- given by hand stays unless a group maps the team, which then decides the role.
CREATE TABLE group_roles (
    group_name TEXT    NOT NULL,
    team_id    INTEGER NOT NULL REFERENCES teams (id),
    role       TEXT    NOT NULL CHECK (role IN ('viewer', 'member', 'lead')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (group_name, team_id)
);
CREATE INDEX group_roles_by_team ON group_roles (team_id);

ALTER TABLE memberships ADD COLUMN by_sso INTEGER NOT NULL DEFAULT 0 CHECK (by_sso IN (0, 1));
