-- The consented class list of a case: one row per value a guardian chose to show.
-- Only ticked fields exist here; a field switched off was never part of the document.
--   * the pupil's name is shown when at least one guardian ticked share_names;
--   * each guardian's own name, e-mail, phone and address follow that guardian's own ticks.
-- Needs the temp table screening_scope (sql/screening_scope.sql). Produces the temp VIEW
-- consented_items: a view, so the list is built while the decisions are written
-- (sql/case_decisions.sql) instead of being stored once more on the way (millions of rows in
-- a municipal case).
CREATE OR REPLACE TEMP VIEW consented_items AS
WITH pupils AS (
    SELECT s.student_id, s.class_id, s.first_name, s.last_name
    FROM students AS s
    SEMI JOIN screening_scope AS sc USING (class_id)
),
pupil_names AS (
    SELECT p.class_id, p.student_id, NULL::VARCHAR AS guardian_id,
           'pupil_name' AS field, p.first_name || ' ' || p.last_name AS value,
           p.last_name || ' ' || p.first_name || ' ' || p.student_id AS sort_key,
           p.student_id || '/pupil_name' AS item_id
    FROM pupils AS p
    SEMI JOIN (SELECT student_id FROM guardians WHERE share_names) AS g USING (student_id)
),
guardian_rows AS (
    SELECT p.class_id, g.student_id, g.guardian_id, g.first_name, g.last_name, g.email, g.phone,
           g.street_address, g.postal_code, g.postal_city, g.share_names, g.share_email,
           g.share_phone, g.share_address, g.last_name || ' ' || g.first_name || ' ' || g.guardian_id AS sort_key,
           g.student_id || '/' || g.guardian_id || '/' AS item_prefix
    FROM guardians AS g
    JOIN pupils AS p USING (student_id)
),
guardian_fields AS (
    SELECT class_id, student_id, guardian_id, 'guardian_name' AS field,
           first_name || ' ' || last_name AS value, sort_key, item_prefix || 'guardian_name' AS item_id
    FROM guardian_rows WHERE share_names
    UNION ALL
    SELECT class_id, student_id, guardian_id, 'email', trim(email), sort_key, item_prefix || 'email'
    FROM guardian_rows WHERE share_email AND coalesce(trim(email), '') <> ''
    UNION ALL
    SELECT class_id, student_id, guardian_id, 'phone', trim(phone), sort_key, item_prefix || 'phone'
    FROM guardian_rows WHERE share_phone AND coalesce(trim(phone), '') <> ''
    UNION ALL
    SELECT class_id, student_id, guardian_id, 'address',
           concat_ws(', ', nullif(trim(street_address), ''),
                     nullif(trim(concat_ws(' ', postal_code, postal_city)), '')),
           sort_key, item_prefix || 'address'
    FROM guardian_rows WHERE share_address AND coalesce(trim(street_address), '') <> ''
)
SELECT class_id, student_id, guardian_id, field, value, sort_key, item_id FROM pupil_names
UNION ALL
SELECT class_id, student_id, guardian_id, field, value, sort_key, item_id FROM guardian_fields;
