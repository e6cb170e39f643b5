-- Four eyes mean people, not tokens: a change registered through an API token records the
-- token and has no human author until a member of the team claims it.
ALTER TABLE changes ALTER COLUMN author_id DROP NOT NULL;
ALTER TABLE changes ADD COLUMN created_by_token BIGINT REFERENCES api_tokens (id);
ALTER TABLE changes ADD CONSTRAINT changes_registered_by
    CHECK (author_id IS NOT NULL OR created_by_token IS NOT NULL);
