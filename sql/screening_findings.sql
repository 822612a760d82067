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
graded_pupils AS (
    SELECT student_id, class_id, 'pupil_address_' || address_protection AS marker
    FROM students
    WHERE address_protection <> 'ugradert'
),
institution_keys AS (
    SELECT DISTINCT normalize_address(street_address, postal_code) AS address_key
    FROM institutions
),
guardian_markers AS (
    -- the household of a graded pupil
    SELECT g.guardian_id, gp.marker
    FROM guardians AS g JOIN graded_pupils AS gp USING (student_id)
    UNION
    -- the guardian's own graded address
    SELECT guardian_id, 'guardian_address_' || address_protection
    FROM guardians WHERE address_protection <> 'ugradert'
    UNION
    SELECT guardian_id, 'unlisted_phone'
    FROM guardians WHERE phone_unlisted
    UNION
    SELECT g.guardian_id, 'institution_address'
    FROM guardians AS g
    JOIN institution_keys AS i
      ON normalize_address(g.street_address, g.postal_code) = i.address_key
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
SELECT 'guardian', NULL, NULL, gm.guardian_id, gm.marker
FROM guardian_markers AS gm JOIN scope_guardians USING (guardian_id);
