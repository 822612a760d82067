-- Move the rows DuckDB rejected while reading a file (read_csv's store_rejects tables) into
-- import_bad_rows, keeping one per row (a short row has one reject per missing field), and
-- drop DuckDB's tables at once: they hold each rejected line's full text (personal data).
INSERT INTO import_bad_rows
SELECT parse_filename(s.file_path, true), e.line, e.column_name, e.error_type, e.error_message
FROM temp.import_rejects e
JOIN temp.import_scans s USING (scan_id, file_id)
QUALIFY row_number() OVER (PARTITION BY e.scan_id, e.line ORDER BY e.column_idx) = 1;

DROP TABLE temp.import_rejects;
DROP TABLE temp.import_scans;
