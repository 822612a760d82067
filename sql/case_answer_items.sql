-- Everything the answer to a case shows (or, in the review copy, withholds): the decided
-- values, in a stable order. Parameters: $case_id, $school_id (NULL: every school; a bulk
-- case renders one school at a time).
SELECT ci.item_id, ci.class_id, ci.student_id, ci.guardian_id, ci.field, ci.value, ci.sort_key,
       ci.decision, ci.rule, ci.legal_basis, ci.consent_state, ci.no_trace
FROM case_items AS ci
JOIN case_classes AS cc ON cc.case_id = ci.case_id AND cc.class_id = ci.class_id
WHERE ci.case_id = $case_id
  AND ($school_id IS NULL OR cc.school_id = $school_id)
ORDER BY ci.class_id, ci.student_id, ci.guardian_id NULLS FIRST, ci.field;
