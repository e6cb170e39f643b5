DROP INDEX audit_log_by_team_object;
DROP INDEX evidence_runs_by_receipt;
