-- Webhook subscriptions and their outbox (app::ssr::store::webhooks): a delivery row is
-- written by the mutation's own transaction, one per matching subscription, and sent by the
-- dispatcher.
CREATE TABLE webhooks (
    id              INTEGER PRIMARY KEY,
    team_id         INTEGER NOT NULL REFERENCES teams (id),
    url             TEXT    NOT NULL,
    -- 'standard' (Standard Webhooks v1, signed) or 'slack'.
    format          TEXT    NOT NULL,
    -- '*' or event type names separated by spaces (app::domain::webhook::EventFilter).
    events          TEXT    NOT NULL,
    -- The signing secret (whsec_…); the one before a rotation signs too until previous_until.
    secret          TEXT    NOT NULL,
    previous_secret TEXT,
    previous_until  INTEGER,
    -- 'active', 'paused' (by a lead) or 'disabled' (by Premortem, with the reason).
    state           TEXT    NOT NULL DEFAULT 'active',
    disabled_reason TEXT,
    -- When the endpoint's current run of failures began; NULL after a success.
    failing_since   INTEGER,
    created_by      INTEGER REFERENCES users (id),
    created_at      INTEGER NOT NULL
);
CREATE INDEX webhooks_by_team ON webhooks (team_id, state);

CREATE TABLE webhook_deliveries (
    id              INTEGER PRIMARY KEY,
    webhook_id      INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_type      TEXT    NOT NULL,
    -- The change it concerns: deliveries of one change reach one endpoint in order.
    change_key      TEXT    NOT NULL,
    -- The change as it was (key, title, team, status) and what the type carries, as JSON.
    change          TEXT    NOT NULL,
    data            TEXT    NOT NULL,
    -- When it was queued (again, when redelivered): it is given up a set time after.
    queued_at       INTEGER NOT NULL,
    occurred_at     INTEGER NOT NULL,
    -- 'pending', 'delivered' or 'failed' (given up).
    state           TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_at         INTEGER NOT NULL,
    -- A dispatcher holds a pending row until then; another may take it after (a crash).
    lease_until     INTEGER NOT NULL DEFAULT 0,
    last_status     INTEGER,
    last_error      TEXT,
    last_attempt_at INTEGER,
    done_at         INTEGER
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_in_order ON webhook_deliveries (webhook_id, change_key, id) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);
CREATE INDEX webhook_deliveries_done ON webhook_deliveries (done_at) WHERE state <> 'pending';
