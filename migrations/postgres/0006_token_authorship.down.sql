-- Back to an author on every change: one registered by a token is given to the token's
-- owner, else to the first user.
ALTER TABLE changes DROP CONSTRAINT changes_registered_by;
UPDATE changes c SET author_id = COALESCE(
    (SELECT created_by FROM api_tokens WHERE id = c.created_by_token), (SELECT MIN(id) FROM users))
WHERE author_id IS NULL;
ALTER TABLE changes DROP COLUMN created_by_token;
ALTER TABLE changes ALTER COLUMN author_id SET NOT NULL;
