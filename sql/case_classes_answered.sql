-- The classes of a case with their schools, in the order the answer presents them.
-- Parameters: $case_id, $school_id (NULL: every school).
SELECT class_id, school_id, school_name, class_name, grade
FROM case_classes
WHERE case_id = $case_id
  AND ($school_id IS NULL OR school_id = $school_id)
ORDER BY school_name, school_id, grade, class_name, class_id;
