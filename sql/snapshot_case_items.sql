-- A work-pool worker's copy of one school's decided rows in a case: every value of its
-- classes with its decision, rule and legal basis (the review part shows the withheld ones,
-- the public part leaves them out, the leak gate looks for them). Parameters: $case_id, $school_id.
SELECT ci.*
FROM case_items AS ci
JOIN case_classes AS cc ON cc.case_id = ci.case_id AND cc.class_id = ci.class_id
WHERE ci.case_id = $case_id AND cc.school_id = $school_id
