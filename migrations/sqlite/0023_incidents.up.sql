-- Incidents and the changes they followed (app::ssr::store::incidents). An incident is a
-- team's; each change it names is judged on its own: did that change's premortem predict it
-- (a failure mode that described it, whose design held or failed) or miss it.
CREATE TABLE incidents (
    id          INTEGER PRIMARY KEY,
    team_id     INTEGER NOT NULL REFERENCES teams (id),
    title       TEXT    NOT NULL,
    -- 'SEV1' (worst) to 'SEV4'.
    severity    TEXT    NOT NULL,
    started_at  INTEGER NOT NULL,
    resolved_at INTEGER,
    url         TEXT,
    -- The incident tool's id: a repeat post with it updates the incident.
    external_id TEXT,
    -- The browser form's key: the same form posted twice records one incident.
    idempotency_key TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE UNIQUE INDEX incidents_by_external_id ON incidents (team_id, external_id)
    WHERE external_id IS NOT NULL;
CREATE UNIQUE INDEX incidents_by_idempotency_key ON incidents (team_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;

CREATE TABLE incident_changes (
    incident_id     INTEGER NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    change_id       INTEGER NOT NULL REFERENCES changes (id),
    -- NULL until classified; then 'held' or 'failed' (predicted by failure_mode_id, whose
    -- design held or not) or 'missed' (no failure mode described it).
    verdict         TEXT,
    failure_mode_id INTEGER REFERENCES failure_modes (id) ON DELETE SET NULL,
    classified_at   INTEGER,
    PRIMARY KEY (incident_id, change_id)
);
CREATE INDEX incident_changes_by_change ON incident_changes (change_id);
