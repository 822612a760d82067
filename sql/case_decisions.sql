-- The decision on every consented value of the case: release or withhold, with the rule.
-- Joins consented_items x findings x policy_rules set-wise. Where several rules touch one
-- value, a rule consent cannot lift wins over one it can, a no-trace rule over one that
-- leaves a trace, and then the rule written first in the policy.
-- Parameters: $case_id, $decided_by, $decided_at. Inserts into case_items.
INSERT INTO case_items
    (case_id, item_id, class_id, student_id, guardian_id, field, value, sort_key,
     decision, rule, legal_basis, consent_state, no_trace, requires_review,
     decided_by, decided_at)
-- `touched` carries the item's field, so matching rules needs no second join of the whole
-- consented list (a municipal case has millions of items; few are touched).
WITH touched AS (
    SELECT i.item_id, i.field, f.marker
    FROM consented_items AS i JOIN findings AS f ON f.scope = 'class' AND f.class_id = i.class_id
    UNION ALL
    SELECT i.item_id, i.field, f.marker
    FROM consented_items AS i JOIN findings AS f ON f.scope = 'pupil' AND f.student_id = i.student_id
    UNION ALL
    SELECT i.item_id, i.field, f.marker
    FROM consented_items AS i JOIN findings AS f ON f.scope = 'guardian' AND f.guardian_id = i.guardian_id
),
matches AS (
    SELECT t.item_id, r.*,
           row_number() OVER (PARTITION BY t.item_id
                              ORDER BY r.consent_lifts, r.no_trace DESC, r.rule_order) AS rank
    FROM touched AS t
    JOIN policy_rules AS r ON r.marker = t.marker AND r.field = t.field
)
SELECT $case_id, i.item_id, i.class_id, i.student_id, i.guardian_id, i.field, i.value, i.sort_key,
       CASE WHEN m.rule_id IS NULL OR m.consent_lifts THEN 'release' ELSE 'withhold' END,
       m.rule_id, m.legal_basis,
       CASE WHEN m.rule_id IS NULL THEN 'consented'
            WHEN m.consent_lifts THEN 'consent_lifted'
            ELSE 'consent_not_sufficient' END,
       coalesce(m.no_trace AND NOT m.consent_lifts, false),
       coalesce(m.requires_review AND NOT m.consent_lifts, false),
       $decided_by, $decided_at
FROM consented_items AS i
LEFT JOIN matches AS m ON m.item_id = i.item_id AND m.rank = 1;
