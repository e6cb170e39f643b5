-- A team's open changes in order of target (app::ssr::portfolio::team_work: the team page's
-- "Coming up"), read in that order and cut at the list's end, instead of every open change
-- of the team sorted (0.21 -> 0.08 ms for a team of 1,000 changes). The open statuses are
-- written as coverage::open_statuses() writes them, so that the engine knows the query's
-- rows are in the index.
CREATE INDEX changes_open_by_team ON changes (team_id, target_at, number)
    WHERE status IN ('draft', 'happy_path_working', 'regressed');
