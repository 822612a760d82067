-- Everything the answer to a case shows (or, in the review copy, withholds): the decided
-- values with their class and school, in a stable order. Parameter: $case_id.
SELECT ci.item_id, ci.class_id, ci.student_id, ci.guardian_id, ci.field, ci.value, ci.sort_key,
       ci.decision, ci.rule, ci.legal_basis, ci.consent_state, ci.no_trace
FROM case_items AS ci
WHERE ci.case_id = $case_id
ORDER BY ci.class_id, ci.student_id, ci.guardian_id NULLS FIRST, ci.field;
