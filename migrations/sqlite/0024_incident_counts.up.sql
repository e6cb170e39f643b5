-- Counts of incident verdicts the portfolio's learning metrics read instead of counting
-- incidents (app::ssr::portfolio::learning), kept by triggers on incident_changes,
-- incidents and changes, so no writer can forget them. A row whose count has fallen to 0
-- stays (readers skip it).
--
-- Whether the change had been signed off when the incident started, judged when the two
-- are linked (a later sign-off, after a reopening, does not move an incident before it).
ALTER TABLE incident_changes ADD COLUMN after_sign_off INTEGER NOT NULL DEFAULT 0;
UPDATE incident_changes SET after_sign_off = 1
    WHERE EXISTS (SELECT 1 FROM changes c, incidents i
                  WHERE c.id = incident_changes.change_id AND i.id = incident_changes.incident_id
                    AND c.signed_off_at <= i.started_at);

-- How many incident verdicts each team has per quarter the incident started in (UTC,
-- '2026-Q4'), set of the change's types, verdict ('' while none) and whether the change
-- had been signed off.
CREATE TABLE incident_counts (
    team_id        INTEGER NOT NULL REFERENCES teams (id),
    quarter        TEXT    NOT NULL,
    types          TEXT    NOT NULL,
    verdict        TEXT    NOT NULL,
    after_sign_off INTEGER NOT NULL,
    n              INTEGER NOT NULL,
    PRIMARY KEY (team_id, quarter, types, verdict, after_sign_off)
) WITHOUT ROWID;
-- A view of several teams reads the window's quarters in this index's order.
CREATE INDEX incident_counts_by_quarter ON incident_counts (quarter, team_id, types, verdict, after_sign_off, n);

-- Each change's verdicts over all its incidents (the CSV's columns).
CREATE TABLE change_incident_counts (
    change_id      INTEGER PRIMARY KEY REFERENCES changes (id),
    held           INTEGER NOT NULL,
    failed         INTEGER NOT NULL,
    missed         INTEGER NOT NULL,
    waiting        INTEGER NOT NULL,
    after_sign_off INTEGER NOT NULL
);

INSERT INTO incident_counts (team_id, quarter, types, verdict, after_sign_off, n)
    SELECT c.team_id,
           strftime('%Y', i.started_at / 1000, 'unixepoch') || '-Q'
               || ((CAST(strftime('%m', i.started_at / 1000, 'unixepoch') AS INTEGER) + 2) / 3),
           c.types, COALESCE(l.verdict, ''), l.after_sign_off, COUNT(*)
    FROM incident_changes l JOIN changes c ON c.id = l.change_id JOIN incidents i ON i.id = l.incident_id
    GROUP BY 1, 2, 3, 4, 5;
INSERT INTO change_incident_counts (change_id, held, failed, missed, waiting, after_sign_off)
    SELECT change_id, SUM(verdict IS 'held'), SUM(verdict IS 'failed'), SUM(verdict IS 'missed'),
           SUM(verdict IS NULL), SUM(after_sign_off)
    FROM incident_changes GROUP BY change_id;

-- A link added, judged or removed: its counts move (the old key down, the new one up).
CREATE TRIGGER incident_changes_counts_insert AFTER INSERT ON incident_changes BEGIN
    INSERT INTO incident_counts (team_id, quarter, types, verdict, after_sign_off, n)
        SELECT c.team_id,
               strftime('%Y', i.started_at / 1000, 'unixepoch') || '-Q'
                   || ((CAST(strftime('%m', i.started_at / 1000, 'unixepoch') AS INTEGER) + 2) / 3),
               c.types, COALESCE(new.verdict, ''), new.after_sign_off, 1
        FROM changes c, incidents i WHERE c.id = new.change_id AND i.id = new.incident_id
        ON CONFLICT (team_id, quarter, types, verdict, after_sign_off) DO UPDATE SET n = n + excluded.n;
    INSERT INTO change_incident_counts (change_id, held, failed, missed, waiting, after_sign_off)
        VALUES (new.change_id, new.verdict IS 'held', new.verdict IS 'failed', new.verdict IS 'missed',
                new.verdict IS NULL, new.after_sign_off)
        ON CONFLICT (change_id) DO UPDATE SET
            held = held + excluded.held, failed = failed + excluded.failed, missed = missed + excluded.missed,
            waiting = waiting + excluded.waiting, after_sign_off = after_sign_off + excluded.after_sign_off;
END;
CREATE TRIGGER incident_changes_counts_delete AFTER DELETE ON incident_changes BEGIN
    UPDATE incident_counts SET n = n - 1
        WHERE (team_id, quarter, types, verdict, after_sign_off) IN (
            SELECT c.team_id,
                   strftime('%Y', i.started_at / 1000, 'unixepoch') || '-Q'
                       || ((CAST(strftime('%m', i.started_at / 1000, 'unixepoch') AS INTEGER) + 2) / 3),
                   c.types, COALESCE(old.verdict, ''), old.after_sign_off
            FROM changes c, incidents i WHERE c.id = old.change_id AND i.id = old.incident_id);
    UPDATE change_incident_counts SET
        held = held - (old.verdict IS 'held'), failed = failed - (old.verdict IS 'failed'),
        missed = missed - (old.verdict IS 'missed'), waiting = waiting - (old.verdict IS NULL),
        after_sign_off = after_sign_off - old.after_sign_off
        WHERE change_id = old.change_id;
END;
CREATE TRIGGER incident_changes_counts_update AFTER UPDATE OF verdict, after_sign_off ON incident_changes
WHEN old.verdict IS NOT new.verdict OR old.after_sign_off <> new.after_sign_off BEGIN
    UPDATE incident_counts SET n = n - 1
        WHERE (team_id, quarter, types, verdict, after_sign_off) IN (
            SELECT c.team_id,
                   strftime('%Y', i.started_at / 1000, 'unixepoch') || '-Q'
                       || ((CAST(strftime('%m', i.started_at / 1000, 'unixepoch') AS INTEGER) + 2) / 3),
                   c.types, COALESCE(old.verdict, ''), old.after_sign_off
            FROM changes c, incidents i WHERE c.id = old.change_id AND i.id = old.incident_id);
    INSERT INTO incident_counts (team_id, quarter, types, verdict, after_sign_off, n)
        SELECT c.team_id,
               strftime('%Y', i.started_at / 1000, 'unixepoch') || '-Q'
                   || ((CAST(strftime('%m', i.started_at / 1000, 'unixepoch') AS INTEGER) + 2) / 3),
               c.types, COALESCE(new.verdict, ''), new.after_sign_off, 1
        FROM changes c, incidents i WHERE c.id = new.change_id AND i.id = new.incident_id
        ON CONFLICT (team_id, quarter, types, verdict, after_sign_off) DO UPDATE SET n = n + excluded.n;
    UPDATE change_incident_counts SET
        held = held - (old.verdict IS 'held') + (new.verdict IS 'held'),
        failed = failed - (old.verdict IS 'failed') + (new.verdict IS 'failed'),
        missed = missed - (old.verdict IS 'missed') + (new.verdict IS 'missed'),
        waiting = waiting - (old.verdict IS NULL) + (new.verdict IS NULL),
        after_sign_off = after_sign_off - old.after_sign_off + new.after_sign_off
        WHERE change_id = new.change_id;
END;
-- An incident's start moved to another quarter: its links' counts move with it.
CREATE TRIGGER incidents_counts_update AFTER UPDATE OF started_at ON incidents
WHEN strftime('%Y-%m', old.started_at / 1000, 'unixepoch') <> strftime('%Y-%m', new.started_at / 1000, 'unixepoch') BEGIN
    INSERT INTO incident_counts (team_id, quarter, types, verdict, after_sign_off, n)
        SELECT c.team_id, v.quarter, c.types, COALESCE(l.verdict, ''), l.after_sign_off, SUM(v.d)
        FROM incident_changes l JOIN changes c ON c.id = l.change_id
        JOIN (SELECT strftime('%Y', old.started_at / 1000, 'unixepoch') || '-Q'
                         || ((CAST(strftime('%m', old.started_at / 1000, 'unixepoch') AS INTEGER) + 2) / 3) AS quarter,
                     -1 AS d
              UNION ALL
              SELECT strftime('%Y', new.started_at / 1000, 'unixepoch') || '-Q'
                         || ((CAST(strftime('%m', new.started_at / 1000, 'unixepoch') AS INTEGER) + 2) / 3),
                     1) v
        WHERE l.incident_id = new.id
        GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (team_id, quarter, types, verdict, after_sign_off) DO UPDATE SET n = n + excluded.n;
END;
-- A change's types (or team) changed: its links' counts move with it.
CREATE TRIGGER changes_incident_counts_update AFTER UPDATE OF team_id, types ON changes
WHEN old.team_id <> new.team_id OR old.types <> new.types BEGIN
    INSERT INTO incident_counts (team_id, quarter, types, verdict, after_sign_off, n)
        SELECT v.team_id,
               strftime('%Y', i.started_at / 1000, 'unixepoch') || '-Q'
                   || ((CAST(strftime('%m', i.started_at / 1000, 'unixepoch') AS INTEGER) + 2) / 3),
               v.types, COALESCE(l.verdict, ''), l.after_sign_off, SUM(v.d)
        FROM incident_changes l JOIN incidents i ON i.id = l.incident_id
        JOIN (SELECT old.team_id AS team_id, old.types AS types, -1 AS d
              UNION ALL SELECT new.team_id, new.types, 1) v
        WHERE l.change_id = new.id
        GROUP BY 1, 2, 3, 4, 5
        ON CONFLICT (team_id, quarter, types, verdict, after_sign_off) DO UPDATE SET n = n + excluded.n;
END;

-- When an incident last showed a failure mode's design failing (the latest classification
-- naming it 'failed'): its evidence from before then no longer counts, so its change's gate
-- waits for a passing run after the verdict (app::domain::gate::Coverage::derive).
ALTER TABLE failure_modes ADD COLUMN design_failed_at INTEGER;
UPDATE failure_modes SET design_failed_at = (
    SELECT MAX(l.classified_at) FROM incident_changes l
    WHERE l.failure_mode_id = failure_modes.id AND l.verdict = 'failed');
