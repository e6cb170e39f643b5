-- Counts the portfolio reads instead of counting changes (app::ssr::portfolio), kept by a
-- trigger on changes, so no writer can forget them. A row whose count has fallen to 0
-- stays (readers skip it).
-- How many changes each team has in each status, per set of types (the type filter).
CREATE TABLE change_counts (
    team_id BIGINT NOT NULL REFERENCES teams (id),
    status  TEXT NOT NULL,
    types   TEXT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (team_id, status, types)
);
-- How many of each team's sign-offs took each number of whole days from happy path, per
-- calendar month (UTC, YYYY-MM) of the sign-off.
CREATE TABLE cycle_counts (
    team_id BIGINT NOT NULL REFERENCES teams (id),
    month   TEXT NOT NULL,
    days    BIGINT NOT NULL,
    n       BIGINT NOT NULL,
    PRIMARY KEY (team_id, days, month)
);
-- Read a team's lengths in the key's order, and a month's lengths in this index's.
CREATE INDEX cycle_counts_by_month ON cycle_counts (month, days, team_id, n);

-- The month (UTC, YYYY-MM) and the whole days from happy path of a sign-off.
CREATE FUNCTION sign_off_month(signed_off_at BIGINT) RETURNS TEXT IMMUTABLE LANGUAGE SQL
    RETURN to_char(to_timestamp(signed_off_at / 1000) AT TIME ZONE 'UTC', 'YYYY-MM');
CREATE FUNCTION sign_off_days(happy_path_at BIGINT, signed_off_at BIGINT) RETURNS BIGINT IMMUTABLE LANGUAGE SQL
    RETURN CASE WHEN signed_off_at > happy_path_at THEN (signed_off_at - happy_path_at) / 86400000 ELSE 0 END;

INSERT INTO change_counts (team_id, status, types, n)
    SELECT team_id, status, types, COUNT(*) FROM changes GROUP BY team_id, status, types;
INSERT INTO cycle_counts (team_id, month, days, n)
    SELECT team_id, sign_off_month(signed_off_at), sign_off_days(happy_path_at, signed_off_at), COUNT(*)
    FROM changes WHERE signed_off_at IS NOT NULL AND happy_path_at IS NOT NULL GROUP BY 1, 2, 3;

CREATE FUNCTION changes_counts() RETURNS trigger LANGUAGE plpgsql AS $$
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
CREATE TRIGGER changes_counts AFTER INSERT OR DELETE OR UPDATE OF team_id, status, types, happy_path_at, signed_off_at
    ON changes FOR EACH ROW EXECUTE FUNCTION changes_counts();

-- The open and the closed changes in order of target, with what the portfolio filters on:
-- a page of the default sort reads them in that order (overdue first), and the overdue
-- ones are counted from the first alone. The open statuses are those of
-- app::domain::change::ChangeStatus::is_open, written as coverage::open_statuses() writes
-- them, so that the engine knows a query's rows are in the index.
DROP INDEX changes_by_target;
CREATE INDEX changes_open_by_target ON changes (target_at, status, team_id, number, types, happy_path_at)
    WHERE status IN ('draft', 'happy_path_working', 'regressed');
CREATE INDEX changes_closed_by_target ON changes (target_at, status, team_id, number, types, happy_path_at)
    WHERE status NOT IN ('draft', 'happy_path_working', 'regressed');
-- The changes without a target, team by team in order of number (they come last).
CREATE INDEX changes_without_target ON changes (team_id, number, target_at, status, types, happy_path_at)
    WHERE target_at IS NULL;
