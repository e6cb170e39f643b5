-- Two changes of one team and set of types moving between the same two statuses in
-- opposite directions at once (one regressing while another is signed off again) each
-- took one count row of 0013's trigger and then waited for the other's: a deadlock, which
-- PostgreSQL broke by aborting one of the writes after a second. Each table's rows are now
-- changed by one statement, in key order, so two writers queue for the same row first.
-- A write that leaves a change's counted key as it was changes no count.
CREATE OR REPLACE FUNCTION changes_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO change_counts (team_id, status, types, n)
        SELECT team_id, status, types, SUM(d)
        FROM (VALUES (OLD.team_id, OLD.status, OLD.types, -1), (NEW.team_id, NEW.status, NEW.types, 1))
            AS v (team_id, status, types, d)
        WHERE team_id IS NOT NULL
        GROUP BY team_id, status, types HAVING SUM(d) <> 0
        ORDER BY team_id, status, types
        ON CONFLICT (team_id, status, types) DO UPDATE SET n = change_counts.n + EXCLUDED.n;
    INSERT INTO cycle_counts (team_id, month, days, n)
        SELECT team_id, sign_off_month(signed_off_at), sign_off_days(happy_path_at, signed_off_at), SUM(d)
        FROM (VALUES (OLD.team_id, OLD.happy_path_at, OLD.signed_off_at, -1),
                     (NEW.team_id, NEW.happy_path_at, NEW.signed_off_at, 1))
            AS v (team_id, happy_path_at, signed_off_at, d)
        WHERE team_id IS NOT NULL AND happy_path_at IS NOT NULL AND signed_off_at IS NOT NULL
        GROUP BY 1, 2, 3 HAVING SUM(d) <> 0
        ORDER BY team_id, 3, 2
        ON CONFLICT (team_id, days, month) DO UPDATE SET n = cycle_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;
