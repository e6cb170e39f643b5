CREATE OR REPLACE FUNCTION changes_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE change_counts SET n = n - 1
            WHERE team_id = OLD.team_id AND status = OLD.status AND types = OLD.types;
        IF OLD.signed_off_at IS NOT NULL AND OLD.happy_path_at IS NOT NULL THEN
            UPDATE cycle_counts SET n = n - 1
                WHERE team_id = OLD.team_id AND month = sign_off_month(OLD.signed_off_at)
                  AND days = sign_off_days(OLD.happy_path_at, OLD.signed_off_at);
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO change_counts (team_id, status, types, n) VALUES (NEW.team_id, NEW.status, NEW.types, 1)
            ON CONFLICT (team_id, status, types) DO UPDATE SET n = change_counts.n + 1;
        IF NEW.signed_off_at IS NOT NULL AND NEW.happy_path_at IS NOT NULL THEN
            INSERT INTO cycle_counts (team_id, month, days, n)
                VALUES (NEW.team_id, sign_off_month(NEW.signed_off_at),
                        sign_off_days(NEW.happy_path_at, NEW.signed_off_at), 1)
                ON CONFLICT (team_id, days, month) DO UPDATE SET n = cycle_counts.n + 1;
        END IF;
    END IF;
    RETURN NULL;
END $$;
