-- Drop the scratch tables of an import (import_setup.sql), whether it succeeded or not.
DROP TABLE IF EXISTS temp.import_cells;
DROP TABLE IF EXISTS temp.import_headers;
DROP TABLE IF EXISTS temp.import_bad_rows;
DROP TABLE IF EXISTS temp.import_columns;
DROP TABLE IF EXISTS temp.import_files;
DROP TABLE IF EXISTS temp.import_rejects;
DROP TABLE IF EXISTS temp.import_scans;
