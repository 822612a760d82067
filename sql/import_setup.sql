-- Scratch tables for one `innsyn db import`. All are TEMP: they live in this connection's
-- memory, never in the database file, and import_cleanup.sql drops them when the import ends.

-- The files of an export, in the order problems are reported (parents before children).
CREATE OR REPLACE TEMP TABLE import_files AS
-- An optional file may be left out of the export (it then imports as empty).
SELECT * FROM (VALUES
    ('schools', 1, false), ('classes', 2, false), ('students', 3, false), ('guardians', 4, false),
    ('institutions', 5, false), ('journal_documents', 6, true)
) AS t (file, file_order, optional);

-- The contract's columns (contract.md, "Import format"), as data the checks join against.
--   kind: id          a non-empty identifier (not personal data: echoed in problems)
--         text        non-empty personal data (never echoed)
--         optional    personal data that may be empty (never echoed)
--         ref         an identifier that may be empty (journal references; echoed like ids)
--         bool        true/false, any case
--         grade       an integer 1-13
--         protection  an address protection grade; empty means ugradert
--   in_key: part of the row's unique key.  refers_to: the file whose key holds this value.
CREATE OR REPLACE TEMP TABLE import_columns AS
SELECT * FROM (VALUES
    ('schools',      1,  'school_id',          'id',         true,  NULL),
    ('schools',      2,  'name',               'text',       false, NULL),
    ('schools',      3,  'special_school',     'bool',       false, NULL),
    ('classes',      1,  'class_id',           'id',         true,  NULL),
    ('classes',      2,  'school_id',          'id',         false, 'schools'),
    ('classes',      3,  'name',               'text',       false, NULL),
    ('classes',      4,  'grade',              'grade',      false, NULL),
    ('classes',      5,  'special_group',      'bool',       false, NULL),
    ('students',     1,  'student_id',         'id',         true,  NULL),
    ('students',     2,  'class_id',           'id',         false, 'classes'),
    ('students',     3,  'first_name',         'text',       false, NULL),
    ('students',     4,  'last_name',          'text',       false, NULL),
    ('students',     5,  'address_protection', 'protection', false, NULL),
    ('guardians',    1,  'guardian_id',        'id',         true,  NULL),
    ('guardians',    2,  'student_id',         'id',         true,  'students'),
    ('guardians',    3,  'first_name',         'text',       false, NULL),
    ('guardians',    4,  'last_name',          'text',       false, NULL),
    ('guardians',    5,  'email',              'optional',   false, NULL),
    ('guardians',    6,  'phone',              'optional',   false, NULL),
    ('guardians',    7,  'phone_unlisted',     'bool',       false, NULL),
    ('guardians',    8,  'street_address',     'optional',   false, NULL),
    ('guardians',    9,  'postal_code',        'optional',   false, NULL),
    ('guardians',    10, 'postal_city',        'optional',   false, NULL),
    ('guardians',    11, 'address_protection', 'protection', false, NULL),
    ('guardians',    12, 'share_names',        'bool',       false, NULL),
    ('guardians',    13, 'share_email',        'bool',       false, NULL),
    ('guardians',    14, 'share_phone',        'bool',       false, NULL),
    ('guardians',    15, 'share_address',      'bool',       false, NULL),
    ('institutions', 1,  'institution_id',     'id',         true,  NULL),
    ('institutions', 2,  'name',               'text',       false, NULL),
    ('institutions', 3,  'street_address',     'text',       false, NULL),
    ('institutions', 4,  'postal_code',        'text',       false, NULL),
    ('institutions', 5,  'kind',               'text',       false, NULL),
    ('journal_documents', 1, 'system_id',      'ref',        false, NULL),
    ('journal_documents', 2, 'saksnr',         'ref',        false, NULL),
    ('journal_documents', 3, 'dokumentnr',     'ref',        false, NULL),
    ('journal_documents', 4, 'school_id',      'id',         false, 'schools'),
    ('journal_documents', 5, 'class_id',       'id',         false, 'classes')
) AS t (file, position, column_name, kind, in_key, refers_to);

-- Each file's header row, as written (position is 1-based).
CREATE OR REPLACE TEMP TABLE import_headers (
    file         VARCHAR NOT NULL,
    position     INTEGER NOT NULL,
    column_name  VARCHAR NOT NULL
);

-- Every cell of the contract's columns, trimmed, empty as NULL. Unknown columns (such as a
-- fødselsnummer) are never copied here. `record` counts data rows from 1; `line` is the file
-- line the row starts on and `next_line` the line after it (a quoted value may span lines).
CREATE OR REPLACE TEMP TABLE import_cells (
    file         VARCHAR NOT NULL,
    record       BIGINT  NOT NULL,
    line         BIGINT  NOT NULL,
    next_line    BIGINT  NOT NULL,
    column_name  VARCHAR NOT NULL,
    value        VARCHAR
);

-- Rows DuckDB could not parse (see import_collect_rejects.sql). `line` is DuckDB's count,
-- which does not count the newlines inside quoted values: import_problems.sql corrects it.
CREATE OR REPLACE TEMP TABLE import_bad_rows (
    file           VARCHAR NOT NULL,
    line           BIGINT  NOT NULL,
    cell           VARCHAR,            -- c1, c2, …: the column's position in the header
    error_type     VARCHAR NOT NULL,
    error_message  VARCHAR
);
DROP TABLE IF EXISTS temp.import_rejects;
DROP TABLE IF EXISTS temp.import_scans;

-- The files to read, for the driver (flows/importer.py).
SELECT file FROM import_files ORDER BY file_order;
