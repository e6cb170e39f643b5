ALTER TABLE teams DROP COLUMN public_badges;
ALTER TABLE evidence_runs DROP COLUMN errored;
ALTER TABLE evidence_runs DROP COLUMN skipped;
ALTER TABLE evidence_runs DROP COLUMN failed;
ALTER TABLE evidence_runs DROP COLUMN passed;
ALTER TABLE evidence_runs DROP COLUMN token_id;
DROP TABLE evidence_history;
DROP TABLE idempotency_keys;
DROP TABLE api_tokens;
