ALTER TABLE failure_modes DROP COLUMN design_failed_at;
DROP TRIGGER changes_incident_counts_update;
DROP TRIGGER incidents_counts_update;
DROP TRIGGER incident_changes_counts_update;
DROP TRIGGER incident_changes_counts_delete;
DROP TRIGGER incident_changes_counts_insert;
DROP TABLE change_incident_counts;
DROP TABLE incident_counts;
ALTER TABLE incident_changes DROP COLUMN after_sign_off;
