DROP TABLE incident_changes;
DROP TABLE incidents;
