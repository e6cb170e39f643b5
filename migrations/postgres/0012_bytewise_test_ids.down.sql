DROP INDEX evidence_latest_bytewise;
