-- A work-pool worker's copy of the graded-household members one school's rows touch (ids
-- only: the review part says why an ungraded pupil or guardian is withheld).
-- Parameters: $case_id, $school_id.
WITH school_items AS (
    SELECT ci.student_id, ci.guardian_id
    FROM case_items AS ci
    JOIN case_classes AS cc ON cc.case_id = ci.case_id AND cc.class_id = ci.class_id
    WHERE ci.case_id = $case_id AND cc.school_id = $school_id
)
SELECT h.*
FROM case_household_members AS h
WHERE h.case_id = $case_id
  AND ((h.kind = 'pupil' AND h.id IN (SELECT student_id FROM school_items))
       OR (h.kind = 'guardian' AND h.id IN (SELECT guardian_id FROM school_items WHERE guardian_id IS NOT NULL)))
