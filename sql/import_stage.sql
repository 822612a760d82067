-- Read one export file into import_cells.
--   $file: 'schools', …   $path: the CSV file
--   $columns: {'c1': 'VARCHAR', …}, one per column of its header (import_header.sql)
-- The columns are given, not sniffed: the sniffer may take a later row for the header when
-- rows are ragged. Columns are read by position (c1, c2, …) and named from import_headers,
-- so any header text is safe. All values are read as text; import_problems.sql checks them.
-- A row DuckDB cannot parse (wrong number of fields, a broken quote, bytes that are not
-- UTF-8) goes to temp.import_rejects with its line and column instead of stopping the read.
INSERT INTO import_cells
WITH raw AS (
    -- Rows come out in file order (DuckDB preserves insertion order). `whole` is all of the
    -- row's text, unknown columns included, for the line count below; it is not kept.
    SELECT row_number() OVER () AS record, concat(*COLUMNS(*)) AS whole, *
    FROM read_csv($path, columns = $columns, header = true, auto_detect = false,
                  delim = ',', quote = '"', escape = '"', encoding = 'utf-8',
                  store_rejects = true, rejects_table = 'import_rejects',
                  rejects_scan = 'import_scans')
),
numbered AS (
    -- DuckDB does not give line numbers, so count them: the header is line 1, and each row
    -- takes one line plus the newlines inside its quoted values. (DuckDB skips blank lines
    -- without a trace, so one in the middle of a file would shift the numbers after it;
    -- exports have none.) A row of empty values (",,,,") is skipped, like a blank line.
    SELECT * EXCLUDE (whole, newlines, newlines_so_far),
           1 + record + newlines_so_far - newlines AS line,
           2 + record + newlines_so_far AS next_line
    FROM (
        SELECT *, sum(newlines) OVER (ORDER BY record) AS newlines_so_far
        FROM (SELECT *, length(whole) - length(replace(whole, chr(10), '')) AS newlines FROM raw)
    )
    WHERE trim(whole, E' \t\r\n') <> ''
),
-- The contract's columns, by their place in this file's header (import_header.sql).
known AS (
    SELECT 'c' || position AS cell, column_name
    FROM import_headers
    WHERE file = $file
      AND column_name IN (SELECT column_name FROM import_columns WHERE file = $file)
)
SELECT $file, record, line, next_line, column_name, nullif(trim(value, E' \t\r\n'), '')
FROM numbered UNPIVOT INCLUDE NULLS (value FOR cell IN (COLUMNS('^c[0-9]+$')))
JOIN known USING (cell);
