DROP INDEX changes_open_by_team;
