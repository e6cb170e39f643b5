-- Search (app::ssr::store::search): full-text indexes of changes (title, summary) and
-- failure modes (title, scenario), kept by triggers, so no writer can forget them.
CREATE VIRTUAL TABLE changes_fts USING fts5 (
    title, summary, content = 'changes', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER changes_fts_insert AFTER INSERT ON changes BEGIN
    INSERT INTO changes_fts (rowid, title, summary) VALUES (new.id, new.title, new.summary);
END;
CREATE TRIGGER changes_fts_delete AFTER DELETE ON changes BEGIN
    INSERT INTO changes_fts (changes_fts, rowid, title, summary) VALUES ('delete', old.id, old.title, old.summary);
END;
CREATE TRIGGER changes_fts_update AFTER UPDATE OF title, summary ON changes BEGIN
    INSERT INTO changes_fts (changes_fts, rowid, title, summary) VALUES ('delete', old.id, old.title, old.summary);
    INSERT INTO changes_fts (rowid, title, summary) VALUES (new.id, new.title, new.summary);
END;
INSERT INTO changes_fts (changes_fts) VALUES ('rebuild');

CREATE VIRTUAL TABLE failure_modes_fts USING fts5 (
    title, scenario, content = 'failure_modes', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
CREATE TRIGGER failure_modes_fts_insert AFTER INSERT ON failure_modes BEGIN
    INSERT INTO failure_modes_fts (rowid, title, scenario) VALUES (new.id, new.title, new.scenario);
END;
CREATE TRIGGER failure_modes_fts_delete AFTER DELETE ON failure_modes BEGIN
    INSERT INTO failure_modes_fts (failure_modes_fts, rowid, title, scenario)
        VALUES ('delete', old.id, old.title, old.scenario);
END;
CREATE TRIGGER failure_modes_fts_update AFTER UPDATE OF title, scenario ON failure_modes BEGIN
    INSERT INTO failure_modes_fts (failure_modes_fts, rowid, title, scenario)
        VALUES ('delete', old.id, old.title, old.scenario);
    INSERT INTO failure_modes_fts (rowid, title, scenario) VALUES (new.id, new.title, new.scenario);
END;
INSERT INTO failure_modes_fts (failure_modes_fts) VALUES ('rebuild');
