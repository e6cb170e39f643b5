ALTER TABLE memberships DROP COLUMN by_sso;
DROP TABLE group_roles;
DROP TABLE identities;
