-- The classes of a case the review copy of a bulk case shows in full: those where a rule
-- withheld something (or left no trace), asks for legal review, or a reviewer overrode a
-- decision. Every other class is released whole, as its guardians shared it.
-- Parameter: $case_id.
SELECT DISTINCT ci.class_id, cc.school_id
FROM case_items AS ci
JOIN case_classes AS cc ON cc.case_id = ci.case_id AND cc.class_id = ci.class_id
WHERE ci.case_id = $case_id
  AND (ci.decision <> 'release' OR ci.no_trace OR ci.requires_review OR ci.override_reason IS NOT NULL)
ORDER BY cc.school_id, ci.class_id;
