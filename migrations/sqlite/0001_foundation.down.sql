DROP TABLE login_failures;
DROP TRIGGER audit_log_no_delete;
DROP TRIGGER audit_log_no_update;
DROP TABLE audit_log;
DROP TABLE memberships;
DROP TABLE teams;
DROP TABLE users;
