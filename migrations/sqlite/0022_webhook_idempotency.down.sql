DROP INDEX webhooks_by_idempotency_key;
ALTER TABLE webhooks DROP COLUMN idempotency_key;
