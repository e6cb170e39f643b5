DROP TABLE changes_fts;
CREATE VIRTUAL TABLE changes_fts USING fts5 (
    title, summary, content = 'changes', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO changes_fts (changes_fts) VALUES ('rebuild');
DROP TABLE failure_modes_fts;
CREATE VIRTUAL TABLE failure_modes_fts USING fts5 (
    title, scenario, content = 'failure_modes', content_rowid = 'id', tokenize = 'unicode61 remove_diacritics 2'
);
INSERT INTO failure_modes_fts (failure_modes_fts) VALUES ('rebuild');
