-- Two reads of history that grew with it read an index now.
-- Evidence past its retention is found by its run (app::ssr::store::evidence::prune): the
-- runs received before the cutoff, through this index, then their history through
-- evidence_history_by_run. A result's history row carries its run's receipt time, so this
-- is the same set as before, which was found by reading every history row every 5 minutes
-- (45 ms holding the write lock at 1,000,000 rows).
CREATE INDEX evidence_runs_by_receipt ON evidence_runs (received_at);
-- A change's history (app::ssr::audit::for_object): its entries and those of the objects
-- under it, a range of object ids in the team's log. It was found by reading the team's
-- whole log (51 ms for a change of a team with 200,000 entries; 0.07 ms by this index).
CREATE INDEX audit_log_by_team_object ON audit_log (team_id, object_id);
