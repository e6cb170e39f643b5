-- Who answers for a failure mode (app::domain::failure_mode::TEXTS): one line, optional.
ALTER TABLE failure_modes ADD COLUMN owner TEXT NOT NULL DEFAULT '';
