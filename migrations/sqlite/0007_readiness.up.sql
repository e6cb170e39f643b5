-- One row that /readyz rewrites after a disk fault, to learn whether writes work again.
CREATE TABLE readiness (id INTEGER PRIMARY KEY CHECK (id = 1), probed_at INTEGER NOT NULL);
INSERT INTO readiness (id, probed_at) VALUES (1, 0);
