-- Counts of incident verdicts the portfolio's learning metrics read instead of counting
-- incidents (app::ssr::portfolio::learning), kept by triggers on incident_changes,
-- incidents and changes, so no writer can forget them. A row whose count has fallen to 0
-- stays (readers skip it). Each trigger changes a table's rows in one statement, in key
-- order (as migration 0015's), so two writers queue for the same row instead of
-- deadlocking.
--
-- Whether the change had been signed off when the incident started, judged when the two
-- are linked (a later sign-off, after a reopening, does not move an incident before it).
ALTER TABLE incident_changes ADD COLUMN after_sign_off BIGINT NOT NULL DEFAULT 0;
UPDATE incident_changes l SET after_sign_off = 1
    FROM changes c, incidents i
    WHERE c.id = l.change_id AND i.id = l.incident_id AND c.signed_off_at <= i.started_at;

-- How many incident verdicts each team has per quarter the incident started in (UTC,
-- '2026-Q4'), set of the change's types, verdict ('' while none) and whether the change
-- had been signed off.
CREATE TABLE incident_counts (
    team_id        BIGINT NOT NULL REFERENCES teams (id),
    quarter        TEXT   NOT NULL,
    types          TEXT   NOT NULL,
    verdict        TEXT   NOT NULL,
    after_sign_off BIGINT NOT NULL,
    n              BIGINT NOT NULL,
    PRIMARY KEY (team_id, quarter, types, verdict, after_sign_off)
);
-- A view of several teams reads the window's quarters in this index's order.
CREATE INDEX incident_counts_by_quarter ON incident_counts (quarter, team_id, types, verdict, after_sign_off, n);

-- Each change's verdicts over all its incidents (the CSV's columns).
CREATE TABLE change_incident_counts (
    change_id      BIGINT PRIMARY KEY REFERENCES changes (id),
    held           BIGINT NOT NULL,
    failed         BIGINT NOT NULL,
    missed         BIGINT NOT NULL,
    waiting        BIGINT NOT NULL,
    after_sign_off BIGINT NOT NULL
);

-- The quarter (UTC) an incident started in: '2026-Q4'.
CREATE FUNCTION incident_quarter(started_at BIGINT) RETURNS TEXT IMMUTABLE LANGUAGE SQL
    RETURN to_char(to_timestamp(started_at / 1000) AT TIME ZONE 'UTC', 'YYYY-"Q"Q');

INSERT INTO incident_counts (team_id, quarter, types, verdict, after_sign_off, n)
    SELECT c.team_id, incident_quarter(i.started_at), c.types, COALESCE(l.verdict, ''), l.after_sign_off, COUNT(*)
    FROM incident_changes l JOIN changes c ON c.id = l.change_id JOIN incidents i ON i.id = l.incident_id
    GROUP BY 1, 2, 3, 4, 5;
INSERT INTO change_incident_counts (change_id, held, failed, missed, waiting, after_sign_off)
    SELECT change_id, COUNT(*) FILTER (WHERE verdict = 'held'), COUNT(*) FILTER (WHERE verdict = 'failed'),
           COUNT(*) FILTER (WHERE verdict = 'missed'), COUNT(*) FILTER (WHERE verdict IS NULL), SUM(after_sign_off)
    FROM incident_changes GROUP BY change_id;

-- A link added, judged or removed: its counts move (the old key down, the new one up).
CREATE FUNCTION incident_changes_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO incident_counts (team_id, quarter, types, verdict, after_sign_off, n)
        SELECT c.team_id, incident_quarter(i.started_at), c.types, v.verdict, v.after_sign_off, SUM(v.d)
        FROM (VALUES (OLD.incident_id, OLD.change_id, COALESCE(OLD.verdict, ''), OLD.after_sign_off, -1),
                     (NEW.incident_id, NEW.change_id, COALESCE(NEW.verdict, ''), NEW.after_sign_off, 1))
            AS v (incident_id, change_id, verdict, after_sign_off, d)
        JOIN changes c ON c.id = v.change_id JOIN incidents i ON i.id = v.incident_id
        GROUP BY 1, 2, 3, 4, 5 HAVING SUM(v.d) <> 0
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (team_id, quarter, types, verdict, after_sign_off)
            DO UPDATE SET n = incident_counts.n + EXCLUDED.n;
    INSERT INTO change_incident_counts (change_id, held, failed, missed, waiting, after_sign_off)
        SELECT change_id, SUM(CASE WHEN verdict = 'held' THEN d ELSE 0 END),
               SUM(CASE WHEN verdict = 'failed' THEN d ELSE 0 END),
               SUM(CASE WHEN verdict = 'missed' THEN d ELSE 0 END),
               SUM(CASE WHEN verdict IS NULL THEN d ELSE 0 END), SUM(after_sign_off * d)
        FROM (VALUES (OLD.change_id, OLD.verdict, OLD.after_sign_off, -1),
                     (NEW.change_id, NEW.verdict, NEW.after_sign_off, 1))
            AS v (change_id, verdict, after_sign_off, d)
        WHERE change_id IS NOT NULL
        GROUP BY change_id
        ON CONFLICT (change_id) DO UPDATE SET
            held = change_incident_counts.held + EXCLUDED.held,
            failed = change_incident_counts.failed + EXCLUDED.failed,
            missed = change_incident_counts.missed + EXCLUDED.missed,
            waiting = change_incident_counts.waiting + EXCLUDED.waiting,
            after_sign_off = change_incident_counts.after_sign_off + EXCLUDED.after_sign_off;
    RETURN NULL;
END $$;
CREATE TRIGGER incident_changes_counts AFTER INSERT OR DELETE OR UPDATE OF verdict, after_sign_off
    ON incident_changes FOR EACH ROW EXECUTE FUNCTION incident_changes_counts();

-- An incident's start moved to another quarter: its links' counts move with it.
CREATE FUNCTION incidents_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO incident_counts (team_id, quarter, types, verdict, after_sign_off, n)
        SELECT c.team_id, incident_quarter(v.started_at), c.types, COALESCE(l.verdict, ''), l.after_sign_off, SUM(v.d)
        FROM incident_changes l JOIN changes c ON c.id = l.change_id
        CROSS JOIN (VALUES (OLD.started_at, -1), (NEW.started_at, 1)) AS v (started_at, d)
        WHERE l.incident_id = NEW.id
        GROUP BY 1, 2, 3, 4, 5 HAVING SUM(v.d) <> 0
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (team_id, quarter, types, verdict, after_sign_off)
            DO UPDATE SET n = incident_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;
CREATE TRIGGER incidents_counts AFTER UPDATE OF started_at ON incidents
    FOR EACH ROW WHEN (incident_quarter(OLD.started_at) <> incident_quarter(NEW.started_at))
    EXECUTE FUNCTION incidents_counts();

-- A change's types (or team) changed: its links' counts move with it.
CREATE FUNCTION changes_incident_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO incident_counts (team_id, quarter, types, verdict, after_sign_off, n)
        SELECT v.team_id, incident_quarter(i.started_at), v.types, COALESCE(l.verdict, ''), l.after_sign_off, SUM(v.d)
        FROM incident_changes l JOIN incidents i ON i.id = l.incident_id
        CROSS JOIN (VALUES (OLD.team_id, OLD.types, -1), (NEW.team_id, NEW.types, 1)) AS v (team_id, types, d)
        WHERE l.change_id = NEW.id
        GROUP BY 1, 2, 3, 4, 5 HAVING SUM(v.d) <> 0
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (team_id, quarter, types, verdict, after_sign_off)
            DO UPDATE SET n = incident_counts.n + EXCLUDED.n;
    RETURN NULL;
END $$;
CREATE TRIGGER changes_incident_counts AFTER UPDATE OF team_id, types ON changes
    FOR EACH ROW WHEN (OLD.team_id <> NEW.team_id OR OLD.types <> NEW.types)
    EXECUTE FUNCTION changes_incident_counts();

-- When an incident last showed a failure mode's design failing (the latest classification
-- naming it 'failed'): its evidence from before then no longer counts, so its change's gate
-- waits for a passing run after the verdict (app::domain::gate::Coverage::derive).
ALTER TABLE failure_modes ADD COLUMN design_failed_at BIGINT;
UPDATE failure_modes SET design_failed_at = (
    SELECT MAX(l.classified_at) FROM incident_changes l
    WHERE l.failure_mode_id = failure_modes.id AND l.verdict = 'failed');
