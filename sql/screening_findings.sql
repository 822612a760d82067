-- Every confidentiality marker that touches the case, found set-wise.
-- Parameter: $case_id. Produces the temp table findings, one row per marker and scope:
--   scope 'class'    : every value in the class (special group, special school)
--   scope 'pupil'    : every value in the pupil's row (the pupil's own graded address)
--   scope 'guardian' : that guardian's values, in every row they appear in (their own graded
--                      address, the household of a graded pupil, unlisted phone, institution)
-- Guardian markers are looked up across the whole register, not only the requested classes:
-- a guardian whose other child has a graded address is protected in this class too.
CREATE OR REPLACE TEMP TABLE findings AS
WITH scope_classes AS (
    SELECT c.class_id, c.special_group, s.special_school
    FROM case_classes AS cc
    JOIN classes AS c USING (class_id)
    JOIN schools AS s ON s.school_id = c.school_id
    WHERE cc.case_id = $case_id
),
scope_guardians AS (
    SELECT DISTINCT g.guardian_id
    FROM guardians AS g
    JOIN students AS s USING (student_id)
    JOIN scope_classes USING (class_id)
),
-- every row of those guardians in the register: a guardian of two pupils has two rows
guardian_rows AS (
    SELECT g.* FROM guardians AS g JOIN scope_guardians USING (guardian_id)
),
graded_pupils AS (
    SELECT student_id, class_id, 'pupil_address_' || address_protection AS marker
    FROM students
    WHERE address_protection <> 'ugradert'
),
-- Institution addresses match on street plus postal code (sql/normalize_address.sql). A
-- missing postal code on either side matches on the street alone: better to withhold an
-- address that is not an institution's than to release one that is.
institution_keys AS (
    SELECT DISTINCT normalize_street(street_address) AS street_key,
                    normalize_postal_code(postal_code) AS postal_key
    FROM institutions
    WHERE normalize_street(street_address) <> ''
),
guardian_addresses AS (
    SELECT DISTINCT guardian_id, normalize_street(street_address) AS street_key,
                    normalize_postal_code(postal_code) AS postal_key
    FROM guardian_rows
    WHERE normalize_street(street_address) <> ''
),
guardian_markers AS (
    -- the household of a graded pupil
    SELECT g.guardian_id, gp.marker
    FROM guardian_rows AS g JOIN graded_pupils AS gp USING (student_id)
    UNION
    -- the guardian's own graded address
    SELECT guardian_id, 'guardian_address_' || address_protection
    FROM guardian_rows WHERE address_protection <> 'ugradert'
    UNION
    SELECT guardian_id, 'unlisted_phone'
    FROM guardian_rows WHERE phone_unlisted
    UNION
    SELECT a.guardian_id, 'institution_address'
    FROM guardian_addresses AS a
    JOIN institution_keys AS i
      ON a.street_key = i.street_key
     AND (a.postal_key = i.postal_key OR a.postal_key = '' OR i.postal_key = '')
)
SELECT 'class' AS scope, class_id, NULL::VARCHAR AS student_id, NULL::VARCHAR AS guardian_id,
       'special_group' AS marker
FROM scope_classes WHERE special_group
UNION ALL
SELECT 'class', class_id, NULL, NULL, 'special_school'
FROM scope_classes WHERE special_school
UNION ALL
SELECT 'pupil', gp.class_id, gp.student_id, NULL, gp.marker
FROM graded_pupils AS gp JOIN scope_classes USING (class_id)
UNION ALL
SELECT 'guardian', NULL, NULL, guardian_id, marker
FROM guardian_markers;
