-- What one decision implies for others in the same case, found after sql/case_decisions.sql
-- decided each value on its own markers. flows/screening.py runs this and applies it
-- (sql/case_decisions_apply.sql) until nothing more changes:
--   1. no trace means no trace: a value that must leave none takes its guardian's whole line
--      with it; a pupil's name that must leave none, the pupil's whole row;
--   2. no released e-mail, phone or address may equal a withheld one (normalised as screening
--      compares them): the same secret printed under another person. Names are left alone:
--      a name may be another person's (a namesake), and the leak gate knows it;
--   3. no bare names: a pupil's name is shown only when a guardian shared it, so a name with
--      every guardian line withheld proves a withheld guardian, and goes too.
-- Each value takes the strongest rule that reaches it (lowest precedence, as in
-- sql/screening_touches.sql). A reviewer's own decision on a value (consent_state
-- 'overridden') stands: it is never changed here. Needs the temp table policy_rules.
-- Parameter: $case_id.
-- Produces the temp table decision_consequences (item_id, rule).
CREATE OR REPLACE TEMP TABLE decision_consequences AS
WITH
rule_precedence AS (SELECT DISTINCT rule_id AS rule, precedence FROM policy_rules),
items AS (
    SELECT i.item_id, i.student_id, i.guardian_id, i.decision, i.no_trace, i.rule, i.value, p.precedence,
           i.consent_state = 'overridden' AS overridden
    FROM case_items AS i LEFT JOIN rule_precedence AS p USING (rule)
    WHERE i.case_id = $case_id
),
withheld AS (SELECT * FROM items WHERE decision = 'withhold' AND rule IS NOT NULL),
no_trace_lines AS (
    SELECT student_id, guardian_id, arg_min(rule, precedence) AS rule
    FROM withheld WHERE no_trace AND guardian_id IS NOT NULL GROUP BY ALL
),
no_trace_rows AS (
    SELECT student_id, arg_min(rule, precedence) AS rule
    FROM withheld WHERE no_trace AND guardian_id IS NULL GROUP BY ALL
),
contact_keys AS (
    SELECT item_id, field || ':' || CASE field WHEN 'phone' THEN normalize_phone(value)
                                               WHEN 'email' THEN normalize_email(value)
                                               ELSE value_key(value) END AS key
    FROM case_items
    WHERE case_id = $case_id AND field IN ('email', 'phone', 'address')
),
withheld_values AS (
    SELECT k.key, arg_min(w.rule, w.precedence) AS rule
    FROM withheld AS w JOIN contact_keys AS k USING (item_id)
    WHERE length(k.key) >= 9 GROUP BY ALL
),
guardian_lines AS (
    SELECT student_id, bool_or(decision = 'release') AS any_released,
           arg_min(rule, precedence) FILTER (decision = 'withhold' AND rule IS NOT NULL) AS rule
    FROM items WHERE guardian_id IS NOT NULL GROUP BY ALL
),
consequences AS (
    SELECT i.item_id, l.rule FROM items AS i JOIN no_trace_lines AS l USING (student_id, guardian_id)
    WHERE NOT i.no_trace
    UNION ALL
    SELECT i.item_id, r.rule FROM items AS i JOIN no_trace_rows AS r USING (student_id)
    WHERE NOT i.no_trace
    UNION ALL
    SELECT i.item_id, w.rule
    FROM items AS i JOIN contact_keys AS k USING (item_id) JOIN withheld_values AS w USING (key)
    WHERE i.decision = 'release'
    UNION ALL
    SELECT i.item_id, g.rule FROM items AS i JOIN guardian_lines AS g USING (student_id)
    WHERE i.guardian_id IS NULL AND i.decision = 'release' AND NOT g.any_released AND g.rule IS NOT NULL
)
SELECT c.item_id, arg_min(c.rule, p.precedence) AS rule
FROM consequences AS c JOIN rule_precedence AS p USING (rule)
WHERE c.item_id NOT IN (SELECT item_id FROM items WHERE overridden)
GROUP BY c.item_id;
