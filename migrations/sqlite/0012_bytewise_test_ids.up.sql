-- Test ids compared bytewise (app::ssr::store::evidence: a selector's prefix range). On
-- SQLite the primary key of evidence_latest (team_id, test_id) already compares bytewise
-- (BINARY), so there is nothing to add; this migration keeps both engines' versions equal.
SELECT 1;
