-- Every confidentiality marker that touches the case, found set-wise at the level it belongs
-- to: classes, pupils and guardians, straight from the register (never per value).
-- Needs the temp tables screening_scope, screening_guardians and household_members
-- (sql/screening_scope.sql, sql/screening_guardians.sql, sql/screening_households.sql) and the
-- address macros (sql/normalize_address.sql); $rules is their version (flows/screening.py,
-- address_rules).
-- Produces the temp table findings, one row per marker and scope:
--   scope 'class'    : every value in the class (special group, special school)
--   scope 'pupil'    : every value in the pupil's row (a graded household the pupil belongs
--                      to; pupil_at_institution: the pupil's name, whose guardian is an
--                      institution)
--   scope 'guardian' : that guardian's values, in every row they appear in (a graded
--                      household the guardian belongs to, unlisted phone, institution)
-- Guardian markers are looked up across the whole register, not only the requested classes:
-- a guardian at an institution on another child's row is at one in this class too
-- (screening_guardians holds every row of the case's guardians, a guardian of two pupils has two).
CREATE OR REPLACE TEMP TABLE findings AS
WITH
-- Institution addresses match on street plus postal code (sql/normalize_address.sql). A
-- missing postal code on either side matches on the street alone: better to withhold an
-- address that is not an institution's than to release one that is.
institution_keys AS (
    SELECT DISTINCT normalize_street(street_address) AS street_key,
                    normalize_postal_code(postal_code) AS postal_key
    FROM institutions
    WHERE normalize_street(street_address) <> ''
),
-- Each street spelling the guardians use was normalised when the register was imported
-- (street_keys, under the rules $rules): the regular expressions are the costly part of
-- screening. A spelling without such a key (a register written by other means, or keyed
-- under older rules) is normalised here.
institution_streets AS (
    SELECT a.street_address, i.postal_key
    FROM (SELECT DISTINCT street_address FROM screening_guardians WHERE street_address IS NOT NULL) AS a
    LEFT JOIN street_keys AS k ON k.street_address = a.street_address AND k.rules = $rules
    JOIN institution_keys AS i
      ON CASE WHEN k.street_key IS NULL THEN normalize_street(a.street_address) ELSE k.street_key END = i.street_key
),
institution_guardians AS (
    SELECT g.guardian_id
    FROM screening_guardians AS g
    JOIN institution_streets AS i USING (street_address)
    WHERE i.postal_key = '' OR normalize_postal_code(g.postal_code) IN ('', i.postal_key)
    UNION
    SELECT guardian_id FROM screening_guardians WHERE institution_name
),
guardian_markers AS (
    -- a graded household the guardian belongs to
    SELECT h.id AS guardian_id, h.marker
    FROM household_members AS h
    WHERE h.kind = 'guardian' AND h.id IN (SELECT guardian_id FROM screening_guardians)
    UNION
    SELECT guardian_id, 'unlisted_phone'
    FROM screening_guardians WHERE phone_unlisted
    UNION
    SELECT guardian_id, 'institution_address'
    FROM institution_guardians
),
case_pupils AS (
    SELECT s.student_id, s.class_id FROM students AS s SEMI JOIN screening_scope USING (class_id)
)
SELECT 'class' AS scope, class_id, NULL::VARCHAR AS student_id, NULL::VARCHAR AS guardian_id,
       'special_group' AS marker
FROM screening_scope WHERE special_group
UNION ALL
SELECT 'class', class_id, NULL, NULL, 'special_school'
FROM screening_scope WHERE special_school
UNION ALL
SELECT 'pupil', p.class_id, p.student_id, NULL, h.marker
FROM case_pupils AS p JOIN household_members AS h ON h.kind = 'pupil' AND h.id = p.student_id
UNION ALL
SELECT DISTINCT 'pupil', p.class_id, p.student_id, NULL, 'pupil_at_institution'
FROM case_pupils AS p
JOIN screening_guardians AS g USING (student_id)
WHERE g.guardian_id IN (SELECT guardian_id FROM institution_guardians)
UNION ALL
SELECT 'guardian', NULL, NULL, guardian_id, marker
FROM guardian_markers;
