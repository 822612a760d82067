-- Which pupils' and guardians' values the case's markers touch, field by field, and the rule
-- that wins there: a few rows per marked pupil or guardian, never one per value.
-- Where several rules touch one value, a rule consent cannot lift wins over one it can, a
-- no-trace rule over one that leaves a trace, and then the rule written first in the policy:
-- `precedence` orders them so (lowest wins; see policy_rules in flows/screening.py).
--   level 'pupil'    : every value in the pupil's row (class markers reach every pupil of
--                      the class, the pupil's own markers their row)
--   level 'guardian' : that guardian's own values, in every row they appear in
-- Needs the temp tables findings and policy_rules. Produces the temp table screening_touches,
-- a table of its own so sql/case_decisions.sql joins millions of values against a table
-- DuckDB knows is small.
CREATE OR REPLACE TEMP TABLE screening_touches AS
SELECT 'pupil' AS level, student_id AS id, field, min(precedence) AS precedence
FROM (
    SELECT s.student_id, r.field, r.precedence
    FROM findings AS f
    JOIN students AS s ON s.class_id = f.class_id
    JOIN policy_rules AS r USING (marker)
    WHERE f.scope = 'class'
    UNION ALL
    SELECT f.student_id, r.field, r.precedence
    FROM findings AS f JOIN policy_rules AS r USING (marker)
    WHERE f.scope = 'pupil'
)
GROUP BY ALL
UNION ALL
SELECT 'guardian', f.guardian_id, r.field, min(r.precedence)
FROM findings AS f JOIN policy_rules AS r USING (marker)
WHERE f.scope = 'guardian'
GROUP BY ALL;
