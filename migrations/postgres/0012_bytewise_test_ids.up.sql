-- Test ids compared bytewise (app::ssr::store::evidence: a selector's prefix range), as
-- the selectors match them, whatever the database's collation: the change page reads
-- only the results its selectors can select by this index.
CREATE INDEX evidence_latest_bytewise ON evidence_latest (team_id, test_id COLLATE "C");
