-- The decision on every consented value of the case: release or withhold, with the rule.
-- Each value takes the winning rule of its pupil's row and of its guardian for its field
-- (sql/screening_touches.sql: the lower precedence of the two); a value no marker touches is
-- released as consented. Needs the temp tables screening_touches and policy_rules and the
-- view consented_items (sql/consented_class_list.sql), read once, while writing.
-- Parameters: $case_id, $decided_by, $decided_at. Inserts into case_items.
INSERT INTO case_items
    (case_id, item_id, class_id, student_id, guardian_id, field, value, sort_key,
     decision, rule, legal_basis, consent_state, no_trace, requires_review,
     decided_by, decided_at)
-- one row per rule: what a winning rule decides (a rule has one row per marker and field)
WITH winners AS (
    SELECT DISTINCT precedence, rule_id, consent_lifts, no_trace, requires_review, legal_basis
    FROM policy_rules
),
decided AS (
    SELECT i.*, least(p.precedence, g.precedence) AS precedence
    FROM consented_items AS i
    LEFT JOIN (SELECT id, field, precedence FROM screening_touches WHERE level = 'pupil') AS p
           ON p.id = i.student_id AND p.field = i.field
    LEFT JOIN (SELECT id, field, precedence FROM screening_touches WHERE level = 'guardian') AS g
           ON g.id = i.guardian_id AND g.field = i.field
)
SELECT $case_id, d.item_id, d.class_id, d.student_id, d.guardian_id, d.field, d.value, d.sort_key,
       CASE WHEN w.rule_id IS NULL OR w.consent_lifts THEN 'release' ELSE 'withhold' END,
       w.rule_id, w.legal_basis,
       CASE WHEN w.rule_id IS NULL THEN 'consented'
            WHEN w.consent_lifts THEN 'consent_lifted'
            ELSE 'consent_not_sufficient' END,
       coalesce(w.no_trace AND NOT w.consent_lifts, false),
       coalesce(w.requires_review AND NOT w.consent_lifts, false),
       $decided_by, $decided_at
FROM decided AS d
LEFT JOIN winners AS w USING (precedence);
