-- A file the importer refuses before DuckDB reads it (flows/importer.py found something
-- DuckDB's CSV parser cannot take): one problem at $line, reported by import_problems.sql.
-- $error_type names it; $detail is what the message needs, never a value from the file.
INSERT INTO import_bad_rows VALUES ($file, $line, NULL, $error_type, $detail);
