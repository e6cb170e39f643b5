-- Due deliveries in the order the dispatcher takes them (next_at, then id), so a claim
-- reads the first few from the index instead of sorting every waiting row: with 2,000
-- waiting, a claim took 4.5 ms on PostgreSQL, and one runs per finished delivery.
DROP INDEX webhook_deliveries_due;
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_at, id) WHERE state = 'pending';
