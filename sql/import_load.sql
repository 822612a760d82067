-- Replace the school data with the staged export. Runs in one transaction, and only once
-- import_problems.sql found nothing, so every value here is known to be well formed.
-- Cases (cases, case_classes, case_items, case_events) are not touched: they snapshot what
-- they used. Children are deleted before their parents, parents inserted before children.
DELETE FROM guardians;
DELETE FROM students;
DELETE FROM classes;
DELETE FROM schools;
DELETE FROM institutions;
DELETE FROM journal_documents;

-- Each file's cells back into rows: PIVOT turns column_name into columns.
INSERT INTO schools (school_id, name, special_school)
SELECT school_id, name, lower(special_school) = 'true'
FROM (PIVOT (FROM import_cells WHERE file = 'schools')
      ON column_name IN ('school_id', 'name', 'special_school')
      USING any_value(value) GROUP BY record)
ORDER BY record;

INSERT INTO classes (class_id, school_id, name, grade, special_group)
SELECT class_id, school_id, name, CAST(grade AS INTEGER), lower(special_group) = 'true'
FROM (PIVOT (FROM import_cells WHERE file = 'classes')
      ON column_name IN ('class_id', 'school_id', 'name', 'grade', 'special_group')
      USING any_value(value) GROUP BY record)
ORDER BY record;

INSERT INTO students (student_id, class_id, first_name, last_name, address_protection)
SELECT student_id, class_id, first_name, last_name,
       coalesce(lower(address_protection), 'ugradert')
FROM (PIVOT (FROM import_cells WHERE file = 'students')
      ON column_name IN ('student_id', 'class_id', 'first_name', 'last_name',
                         'address_protection')
      USING any_value(value) GROUP BY record)
ORDER BY record;

INSERT INTO guardians (guardian_id, student_id, first_name, last_name, email, phone,
                       phone_unlisted, street_address, postal_code, postal_city,
                       address_protection, share_names, share_email, share_phone, share_address)
SELECT guardian_id, student_id, first_name, last_name, email, phone,
       lower(phone_unlisted) = 'true', street_address, postal_code, postal_city,
       coalesce(lower(address_protection), 'ugradert'),
       lower(share_names) = 'true', lower(share_email) = 'true',
       lower(share_phone) = 'true', lower(share_address) = 'true'
FROM (PIVOT (FROM import_cells WHERE file = 'guardians')
      ON column_name IN ('guardian_id', 'student_id', 'first_name', 'last_name', 'email',
                         'phone', 'phone_unlisted', 'street_address', 'postal_code',
                         'postal_city', 'address_protection', 'share_names', 'share_email',
                         'share_phone', 'share_address')
      USING any_value(value) GROUP BY record)
ORDER BY record;

INSERT INTO institutions (institution_id, name, street_address, postal_code, kind)
SELECT institution_id, name, street_address, postal_code, kind
FROM (PIVOT (FROM import_cells WHERE file = 'institutions')
      ON column_name IN ('institution_id', 'name', 'street_address', 'postal_code', 'kind')
      USING any_value(value) GROUP BY record)
ORDER BY record;

-- optional: an export without journal_documents.csv leaves no mapping
INSERT INTO journal_documents (system_id, saksnr, dokumentnr, school_id, class_id)
SELECT system_id, saksnr, dokumentnr, school_id, class_id
FROM (PIVOT (FROM import_cells WHERE file = 'journal_documents')
      ON column_name IN ('system_id', 'saksnr', 'dokumentnr', 'school_id', 'class_id')
      USING any_value(value) GROUP BY record)
ORDER BY record;

SELECT (SELECT count(*) FROM schools)      AS schools,
       (SELECT count(*) FROM classes)      AS classes,
       (SELECT count(*) FROM students)     AS students,
       (SELECT count(*) FROM guardians)    AS guardians,
       (SELECT count(*) FROM institutions) AS institutions,
       (SELECT count(*) FROM journal_documents) AS journal_documents;
