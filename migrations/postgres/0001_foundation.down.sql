DROP TABLE login_failures;
DROP TRIGGER audit_log_append_only ON audit_log;
DROP FUNCTION audit_log_append_only();
DROP TABLE audit_log;
DROP TABLE memberships;
DROP TABLE teams;
DROP TABLE users;
