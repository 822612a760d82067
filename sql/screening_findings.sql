-- Every confidentiality marker that touches the case, found set-wise at the level it belongs
-- to: classes, pupils and guardians, straight from the register (never per value).
-- Needs the temp tables screening_scope and screening_guardians (sql/screening_scope.sql,
-- sql/screening_guardians.sql) and the address macros (sql/normalize_address.sql); $rules is
-- their version (flows/screening.py, address_rules).
-- Produces the temp table findings, one row per marker and scope:
--   scope 'class'    : every value in the class (special group, special school)
--   scope 'pupil'    : every value in the pupil's row (the pupil's own graded address)
--   scope 'guardian' : that guardian's values, in every row they appear in (their own graded
--                      address, the household of a graded pupil, unlisted phone, institution)
-- Guardian markers are looked up across the whole register, not only the requested classes:
-- a guardian whose other child has a graded address is protected in this class too
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
guardian_markers AS (
    -- the household of a graded pupil
    SELECT guardian_id, household_marker AS marker
    FROM screening_guardians WHERE household_marker IS NOT NULL
    UNION
    -- the guardian's own graded address
    SELECT guardian_id, 'guardian_address_' || address_protection
    FROM screening_guardians WHERE address_protection <> 'ugradert'
    UNION
    SELECT guardian_id, 'unlisted_phone'
    FROM screening_guardians WHERE phone_unlisted
    UNION
    SELECT g.guardian_id, 'institution_address'
    FROM screening_guardians AS g
    JOIN institution_streets AS i USING (street_address)
    WHERE i.postal_key = '' OR normalize_postal_code(g.postal_code) IN ('', i.postal_key)
)
SELECT 'class' AS scope, class_id, NULL::VARCHAR AS student_id, NULL::VARCHAR AS guardian_id,
       'special_group' AS marker
FROM screening_scope WHERE special_group
UNION ALL
SELECT 'class', class_id, NULL, NULL, 'special_school'
FROM screening_scope WHERE special_school
UNION ALL
SELECT 'pupil', s.class_id, s.student_id, NULL, 'pupil_address_' || s.address_protection
FROM students AS s SEMI JOIN screening_scope USING (class_id)
WHERE s.address_protection <> 'ugradert'
UNION ALL
SELECT 'guardian', NULL, NULL, guardian_id, marker
FROM guardian_markers;
