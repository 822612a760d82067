-- The consented class list of one case: one row per value a guardian chose to show.
-- Only ticked fields exist here; a field switched off was never part of the document.
--   * the pupil's name is shown when at least one guardian ticked share_names;
--   * each guardian's own name, e-mail, phone and address follow that guardian's own ticks.
-- Parameter: $case_id. Produces the temp table consented_items.
CREATE OR REPLACE TEMP TABLE consented_items AS
WITH scope AS (
    SELECT c.class_id, c.school_id
    FROM case_classes AS cc
    JOIN classes AS c USING (class_id)
    WHERE cc.case_id = $case_id
),
pupils AS (
    SELECT s.student_id, s.class_id, s.first_name, s.last_name
    FROM students AS s
    JOIN scope USING (class_id)
),
pupil_names AS (
    SELECT p.class_id, p.student_id, NULL::VARCHAR AS guardian_id,
           'pupil_name' AS field, p.first_name || ' ' || p.last_name AS value,
           p.last_name || ' ' || p.first_name || ' ' || p.student_id AS sort_key
    FROM pupils AS p
    WHERE EXISTS (SELECT 1 FROM guardians AS g WHERE g.student_id = p.student_id AND g.share_names)
),
guardian_rows AS (
    SELECT p.class_id, g.*, g.last_name || ' ' || g.first_name || ' ' || g.guardian_id AS sort_key
    FROM guardians AS g
    JOIN pupils AS p USING (student_id)
),
guardian_values AS (
    SELECT class_id, student_id, guardian_id, 'guardian_name' AS field,
           first_name || ' ' || last_name AS value, sort_key
    FROM guardian_rows WHERE share_names
    UNION ALL
    SELECT class_id, student_id, guardian_id, 'email', trim(email), sort_key
    FROM guardian_rows WHERE share_email AND coalesce(trim(email), '') <> ''
    UNION ALL
    SELECT class_id, student_id, guardian_id, 'phone', trim(phone), sort_key
    FROM guardian_rows WHERE share_phone AND coalesce(trim(phone), '') <> ''
    UNION ALL
    SELECT class_id, student_id, guardian_id, 'address',
           concat_ws(', ', nullif(trim(street_address), ''),
                     nullif(trim(concat_ws(' ', postal_code, postal_city)), '')),
           sort_key
    FROM guardian_rows WHERE share_address AND coalesce(trim(street_address), '') <> ''
)
SELECT class_id, student_id, guardian_id, field, value, sort_key,
       student_id || '/' || field AS item_id
FROM pupil_names
UNION ALL
SELECT class_id, student_id, guardian_id, field, value, sort_key,
       student_id || '/' || guardian_id || '/' || field AS item_id
FROM guardian_values;
