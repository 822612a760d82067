-- Households: a graded address is a household's secret, not one person's (domain.md,
-- "Households"). From every graded person in the whole register, everyone the grade can
-- identify, with the marker that reaches them and how:
--   via 'own'                the graded pupil or guardian
--   via 'guardian_of_graded' a guardian of a graded pupil (the child lives at their address)
--   via 'co_resident'        a guardian whose address (normalised as for institutions: street
--                            key plus postal code, a missing postal code matching on the street
--                            alone) is a graded household's home, or whose e-mail or phone is
--                            theirs: the same secret, printed under another name. One building
--                            is one home unless both addresses say which flat or floor, in the
--                            same way, and differ (normalize_dwelling)
--   via 'child'              a pupil of one of the above (lives at the secret address; a
--                            sibling of a graded pupil is one)
--   via 'family'             ($whole_family) everyone linked to those through guardianship
--                            in turn: a co-guardian who lives elsewhere, their other children
-- The markers are the graded person's own (pupil_address_<grade>, guardian_address_<grade>),
-- so the policy's rules for graded addresses decide what a member's values get; a member
-- reached by several grades gets each, and the strictest rule wins (sql/screening_touches.sql).
-- Needs the address macros (sql/normalize_address.sql). Parameters: $rules (their version,
-- for street_keys), $co_residents, $whole_family (policy [household]).
-- Produces the temp table household_members (kind 'pupil' | 'guardian', id, marker, via).
-- Graded persons are few: every step starts from them, the register is only looked up.
CREATE OR REPLACE TEMP TABLE household_members AS
WITH RECURSIVE
graded_pupils AS (
    SELECT student_id, 'pupil_address_' || address_protection AS marker
    FROM students WHERE address_protection <> 'ugradert'
),
-- a guardian graded on any of their rows is graded wherever they appear
anchors AS (
    SELECT DISTINCT guardian_id, 'guardian_address_' || address_protection AS marker, 'own' AS via
    FROM guardians WHERE address_protection <> 'ugradert'
    UNION
    SELECT DISTINCT g.guardian_id, p.marker, 'guardian_of_graded'
    FROM guardians AS g JOIN graded_pupils AS p USING (student_id)
),
anchor_rows AS (
    SELECT DISTINCT a.marker, g.street_address, g.postal_code, g.email, g.phone
    FROM anchors AS a JOIN guardians AS g USING (guardian_id)
),
-- the households' own values, each as the key equal values share
secret_streets AS (
    SELECT DISTINCT r.marker,
           CASE WHEN k.street_key IS NULL THEN normalize_street(r.street_address) ELSE k.street_key END AS street_key,
           normalize_postal_code(r.postal_code) AS postal_key, normalize_dwelling(r.street_address) AS dwelling
    FROM anchor_rows AS r
    LEFT JOIN street_keys AS k ON k.street_address = r.street_address AND k.rules = $rules
    WHERE r.street_address IS NOT NULL
),
secret_emails AS (
    SELECT DISTINCT marker, normalize_email(email) AS email FROM anchor_rows WHERE normalize_email(email) <> ''
),
secret_phones AS (
    SELECT DISTINCT marker, normalize_phone(phone) AS phone FROM anchor_rows WHERE normalize_phone(phone) <> ''
),
-- every guardian spelling of a street whose key is a secret one (keys made at import; a
-- spelling without a current key is normalised here)
street_matches AS (
    SELECT DISTINCT s.marker, a.street_address, s.postal_key
    FROM (SELECT DISTINCT street_address FROM guardians WHERE street_address IS NOT NULL) AS a
    LEFT JOIN street_keys AS k ON k.street_address = a.street_address AND k.rules = $rules
    JOIN secret_streets AS s
      ON CASE WHEN k.street_key IS NULL THEN normalize_street(a.street_address) ELSE k.street_key END = s.street_key
    WHERE s.street_key <> '' AND same_dwelling(s.dwelling, normalize_dwelling(a.street_address))
),
co_residents AS (
    SELECT DISTINCT g.guardian_id, m.marker, 'co_resident' AS via
    FROM guardians AS g JOIN street_matches AS m USING (street_address)
    WHERE $co_residents AND (m.postal_key = '' OR normalize_postal_code(g.postal_code) IN ('', m.postal_key))
    UNION
    SELECT DISTINCT g.guardian_id, e.marker, 'co_resident'
    FROM guardians AS g JOIN secret_emails AS e ON normalize_email(g.email) = e.email
    WHERE $co_residents
    UNION
    SELECT DISTINCT g.guardian_id, p.marker, 'co_resident'
    FROM guardians AS g JOIN secret_phones AS p ON normalize_phone(g.phone) = p.phone
    WHERE $co_residents
),
-- `home`: lives at the secret address (the graded, their guardians, co-residents): their
-- pupils always belong; everyone further out only with $whole_family
seeds (kind, id, marker, via, home) AS (
    SELECT 'pupil', student_id, marker, 'own', true FROM graded_pupils
    UNION
    SELECT 'guardian', guardian_id, marker, via, true FROM anchors
    UNION
    SELECT 'guardian', guardian_id, marker, via, true FROM co_residents
),
-- guardianship both ways: a guardian to their pupils, a pupil to their guardians
links (from_kind, from_id, to_kind, to_id) AS (
    SELECT 'guardian', guardian_id, 'pupil', student_id FROM guardians
    UNION ALL
    SELECT 'pupil', student_id, 'guardian', guardian_id FROM guardians
),
reach (kind, id, marker, via, home) AS (
    SELECT kind, id, marker, via, home FROM seeds
    UNION
    SELECT l.to_kind, l.to_id, r.marker, CASE WHEN r.home THEN 'child' ELSE 'family' END, false
    FROM reach AS r
    JOIN links AS l ON l.from_kind = r.kind AND l.from_id = r.id
    WHERE (r.kind = 'guardian' AND r.home) OR $whole_family
)
-- one row per member and marker, with the closest way it was reached
SELECT kind, id, marker,
       arg_min(via, list_position(['own', 'guardian_of_graded', 'co_resident', 'child', 'family'], via)) AS via
FROM reach
GROUP BY kind, id, marker;
