-- A retried POST /webhooks with the same Idempotency-Key answers the webhook it added
-- instead of adding a second one, which would hear every event twice.
ALTER TABLE webhooks ADD COLUMN idempotency_key TEXT;
CREATE UNIQUE INDEX webhooks_by_idempotency_key ON webhooks (team_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
