ALTER TABLE failure_modes DROP COLUMN template;
DROP INDEX fm_templates_by_team;
DROP TABLE fm_templates;
