DROP INDEX failure_modes_search;
DROP INDEX changes_search;
