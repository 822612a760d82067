-- Everything wrong with the staged export, one message per problem, in reading order: files
-- as in import_files, then by line, then by column. No rows: the export can be loaded.
-- A message names file, line and column and never repeats a value: not from personal data
-- (names, e-mail, phone, address), and not from any other column either, since a shifted
-- column puts a phone number where a boolean belongs, and a value may hold control
-- characters that would reach the terminal. File, line and column find the cell.
WITH cells AS (
    -- every contract cell of every data row, with what the contract says about it
    SELECT c.file, c.record, c.line, c.column_name, c.value,
           col.position, col.kind, col.in_key, col.refers_to
    FROM import_cells c
    JOIN import_columns col USING (file, column_name)
),
bad_rows AS (
    -- DuckDB's line numbers do not count newlines inside quoted values. Add those of the rows
    -- read before the bad one: the last of them ends on the line before `next_line`.
    -- A row with the wrong number of fields is the row's fault, not one column's.
    SELECT b.file, b.error_type, b.error_message, b.wrong_width,
           b.line + coalesce(r.next_line - r.record - 2, 0) AS line,
           CASE WHEN NOT b.wrong_width THEN h.position END AS position,
           CASE WHEN NOT b.wrong_width THEN h.column_name END AS column_name
    FROM (
        SELECT *,
               error_type IN ('MISSING COLUMNS', 'TOO MANY COLUMNS') AS wrong_width,
               line - 1 - row_number() OVER (PARTITION BY file ORDER BY line) AS rows_before
        FROM import_bad_rows
    ) b
    ASOF LEFT JOIN (SELECT DISTINCT file, record, next_line FROM import_cells) r
        ON r.file = b.file AND r.record <= b.rows_before
    LEFT JOIN import_headers h
        ON h.file = b.file AND h.position = CAST(substr(b.cell, 2) AS INTEGER)
),
keys AS (
    -- each row's unique key: one id, or for guardians the pair guardian_id + student_id
    SELECT file, record, min(line) AS line, list(value ORDER BY position) AS key
    FROM cells
    WHERE in_key
    GROUP BY file, record
    HAVING count(value) = count(*)   -- an empty part is reported as empty, not as a key
),
key_columns AS (
    SELECT file, min(position) AS position, arg_min(column_name, position) AS column_name,
           string_agg(column_name, '+' ORDER BY position) AS names
    FROM import_columns
    WHERE in_key
    GROUP BY file
),
problems (file, line, position, column_name, problem) AS (
    SELECT file, NULL, NULL, NULL, 'file is missing or empty'
    FROM import_files
    WHERE file NOT IN (SELECT file FROM import_headers) AND NOT optional

    UNION ALL
    SELECT file, 1, NULL, NULL, 'columns must be separated by commas, not semicolons'
    FROM import_headers
    GROUP BY file
    HAVING count(*) = 1 AND bool_or(column_name LIKE '%;%')

    UNION ALL
    SELECT c.file, 1, c.position, c.column_name, 'column is missing from the header'
    FROM import_columns c
    WHERE c.file IN (SELECT file FROM import_headers)
      AND c.column_name NOT IN (SELECT column_name FROM import_headers h WHERE h.file = c.file)

    UNION ALL
    SELECT file, 1, min(c.position), column_name, 'column appears more than once in the header'
    FROM import_headers
    JOIN import_columns c USING (file, column_name)
    GROUP BY file, column_name
    HAVING count(*) > 1

    UNION ALL
    SELECT file, line, position, column_name,
           CASE
               WHEN wrong_width THEN
                   format('expected {} fields (as in the header), found {}',
                          regexp_extract(error_message, 'Columns: (\d+)', 1),
                          regexp_extract(error_message, 'Found: (\d+)', 1))
               WHEN error_type = 'UNQUOTED VALUE' THEN
                   'a quoted value is not closed, or a quote is misplaced'
               WHEN error_type = 'INVALID ENCODING' THEN
                   'not valid UTF-8 (the file must be saved as UTF-8)'
               WHEN error_type = 'LINE SIZE OVER MAXIMUM' THEN 'the line is too long'
               WHEN error_type = 'MIXED LINE ENDINGS' THEN
                   format('the line ends in {}, but line 1 in {}: save the file with one kind of line ending',
                          split_part(error_message, ' ', 1), split_part(error_message, ' ', 2))
               ELSE format('cannot be read ({})', lower(error_type))
           END
    FROM bad_rows

    UNION ALL
    SELECT file, line, position, column_name,
           CASE
               WHEN value IS NULL THEN
                   CASE WHEN kind IN ('id', 'text', 'bool', 'grade') THEN 'is empty' END
               -- no real name, address or id is this long: refuse it rather than print it
               WHEN length(value) > 256 THEN
                   format('is {} characters long; at most 256 are allowed', length(value))
               -- NUL, escape and the other control characters (a line break or tab inside a
               -- quoted value is text): no name, address or id holds one, and a terminal or a
               -- PDF would act on it
               WHEN regexp_matches(value, '[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]') THEN
                   format('holds a control character (U+{:04X}), which no value may hold',
                          ord(regexp_extract(value, '[\x00-\x08\x0B\x0C\x0E-\x1F\x7F-\x9F]')))
               WHEN kind = 'bool' AND lower(value) NOT IN ('true', 'false') THEN
                   'expected true or false'
               WHEN kind = 'grade' AND NOT coalesce(regexp_full_match(value, '[0-9]+')
                       AND try_cast(value AS INTEGER) BETWEEN 1 AND 13, false) THEN
                   'expected a grade from 1 to 13'
               WHEN kind = 'protection' AND lower(value) NOT IN ('ugradert', 'fortrolig',
                       'strengt_fortrolig', 'strengt_fortrolig_utland') THEN
                   'expected ugradert, fortrolig, strengt_fortrolig, strengt_fortrolig_utland or empty'
           END
    FROM cells

    UNION ALL
    SELECT file, d.line, k.position, k.column_name,
           format('duplicate {} (first on line {})', k.names, d.first_line)
    FROM (SELECT *, min(line) OVER (PARTITION BY file, key) AS first_line FROM keys) d
    JOIN key_columns k USING (file)
    WHERE d.line > d.first_line

    UNION ALL
    SELECT c.file, c.line, c.position, c.column_name,
           format('not found in {}.csv', c.refers_to)
    FROM cells c
    ANTI JOIN cells parent
        ON parent.file = c.refers_to AND parent.in_key
       AND parent.column_name = c.column_name AND parent.value = c.value
    WHERE c.refers_to IS NOT NULL AND c.value IS NOT NULL

    -- journal_documents.csv: each row names its document by system_id or by saksnr +
    -- dokumentnr, names each document once, and its class belongs to its school
    UNION ALL
    SELECT 'journal_documents', min(line), NULL, NULL,
           'needs system_id, or both saksnr and dokumentnr'
    FROM cells WHERE file = 'journal_documents'
    GROUP BY record
    HAVING count(value) FILTER (column_name = 'system_id') = 0
       AND count(value) FILTER (column_name IN ('saksnr', 'dokumentnr')) < 2

    UNION ALL
    SELECT 'journal_documents', line, 1, 'system_id', format('duplicate system_id (first on line {})', first_line)
    FROM (SELECT line, min(line) OVER (PARTITION BY value) AS first_line
          FROM cells WHERE file = 'journal_documents' AND column_name = 'system_id' AND value IS NOT NULL)
    WHERE line > first_line

    UNION ALL
    SELECT 'journal_documents', line, 2, 'saksnr',
           format('duplicate saksnr+dokumentnr (first on line {})', first_line)
    FROM (SELECT line, min(line) OVER (PARTITION BY saksnr, dokumentnr) AS first_line
          FROM (PIVOT (SELECT record, line, column_name, value FROM cells WHERE file = 'journal_documents')
                ON column_name IN ('saksnr', 'dokumentnr') USING any_value(value) GROUP BY record, line)
          WHERE saksnr IS NOT NULL AND dokumentnr IS NOT NULL)
    WHERE line > first_line

    UNION ALL
    SELECT 'journal_documents', j.line, 5, 'class_id', 'the class belongs to another school than school_id'
    FROM (PIVOT (SELECT record, line, column_name, value FROM cells WHERE file = 'journal_documents')
          ON column_name IN ('school_id', 'class_id') USING any_value(value) GROUP BY record, line) j
    JOIN (PIVOT (SELECT record, column_name, value FROM cells WHERE file = 'classes')
          ON column_name IN ('class_id', 'school_id') USING any_value(value) GROUP BY record) c
        ON c.class_id = j.class_id
    WHERE c.school_id <> j.school_id
)
SELECT concat(file, '.csv', ' line ' || line, ', column ' || column_name, ': ', problem)
FROM problems
JOIN import_files USING (file)
WHERE problem IS NOT NULL
ORDER BY file_order, line NULLS FIRST, position NULLS FIRST, problem;
