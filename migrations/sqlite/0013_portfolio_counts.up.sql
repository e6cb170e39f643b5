-- Counts the portfolio reads instead of counting changes (app::ssr::portfolio), kept by
-- triggers on changes, so no writer can forget them. A row whose count has fallen to 0
-- stays (readers skip it).
-- How many changes each team has in each status, per set of types (the type filter).
CREATE TABLE change_counts (
    team_id INTEGER NOT NULL REFERENCES teams (id),
    status  TEXT NOT NULL,
    types   TEXT NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (team_id, status, types)
) WITHOUT ROWID;
-- How many of each team's sign-offs took each number of whole days from happy path, per
-- calendar month (UTC, YYYY-MM) of the sign-off.
CREATE TABLE cycle_counts (
    team_id INTEGER NOT NULL REFERENCES teams (id),
    month   TEXT NOT NULL,
    days    INTEGER NOT NULL,
    n       INTEGER NOT NULL,
    PRIMARY KEY (team_id, days, month)
) WITHOUT ROWID;
-- Read a team's lengths in the key's order, and a month's lengths in this index's.
CREATE INDEX cycle_counts_by_month ON cycle_counts (month, days, team_id, n);

INSERT INTO change_counts (team_id, status, types, n)
    SELECT team_id, status, types, COUNT(*) FROM changes GROUP BY team_id, status, types;
INSERT INTO cycle_counts (team_id, month, days, n)
    SELECT team_id, strftime('%Y-%m', signed_off_at / 1000, 'unixepoch'),
           CASE WHEN signed_off_at > happy_path_at THEN (signed_off_at - happy_path_at) / 86400000 ELSE 0 END,
           COUNT(*)
    FROM changes WHERE signed_off_at IS NOT NULL AND happy_path_at IS NOT NULL GROUP BY 1, 2, 3;

CREATE TRIGGER changes_counts_insert AFTER INSERT ON changes BEGIN
    INSERT INTO change_counts (team_id, status, types, n) VALUES (new.team_id, new.status, new.types, 1)
        ON CONFLICT (team_id, status, types) DO UPDATE SET n = n + 1;
    INSERT INTO cycle_counts (team_id, month, days, n)
        SELECT new.team_id, strftime('%Y-%m', new.signed_off_at / 1000, 'unixepoch'),
               CASE WHEN new.signed_off_at > new.happy_path_at
                    THEN (new.signed_off_at - new.happy_path_at) / 86400000 ELSE 0 END, 1
        WHERE new.signed_off_at IS NOT NULL AND new.happy_path_at IS NOT NULL
        ON CONFLICT (team_id, days, month) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER changes_counts_delete AFTER DELETE ON changes BEGIN
    UPDATE change_counts SET n = n - 1
        WHERE team_id = old.team_id AND status = old.status AND types = old.types;
    UPDATE cycle_counts SET n = n - 1
        WHERE old.signed_off_at IS NOT NULL AND old.happy_path_at IS NOT NULL AND team_id = old.team_id
          AND month = strftime('%Y-%m', old.signed_off_at / 1000, 'unixepoch')
          AND days = CASE WHEN old.signed_off_at > old.happy_path_at
                          THEN (old.signed_off_at - old.happy_path_at) / 86400000 ELSE 0 END;
END;
CREATE TRIGGER changes_counts_update AFTER UPDATE OF team_id, status, types, happy_path_at, signed_off_at ON changes BEGIN
    UPDATE change_counts SET n = n - 1
        WHERE team_id = old.team_id AND status = old.status AND types = old.types;
    INSERT INTO change_counts (team_id, status, types, n) VALUES (new.team_id, new.status, new.types, 1)
        ON CONFLICT (team_id, status, types) DO UPDATE SET n = n + 1;
    UPDATE cycle_counts SET n = n - 1
        WHERE old.signed_off_at IS NOT NULL AND old.happy_path_at IS NOT NULL AND team_id = old.team_id
          AND month = strftime('%Y-%m', old.signed_off_at / 1000, 'unixepoch')
          AND days = CASE WHEN old.signed_off_at > old.happy_path_at
                          THEN (old.signed_off_at - old.happy_path_at) / 86400000 ELSE 0 END;
    INSERT INTO cycle_counts (team_id, month, days, n)
        SELECT new.team_id, strftime('%Y-%m', new.signed_off_at / 1000, 'unixepoch'),
               CASE WHEN new.signed_off_at > new.happy_path_at
                    THEN (new.signed_off_at - new.happy_path_at) / 86400000 ELSE 0 END, 1
        WHERE new.signed_off_at IS NOT NULL AND new.happy_path_at IS NOT NULL
        ON CONFLICT (team_id, days, month) DO UPDATE SET n = n + 1;
END;

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
