-- A work-pool worker's copy of a case's classes: all of them (ids, names and grades; the
-- scope's wording names them), so one school's part is the same as the writer's would be.
-- Parameters: $case_id, $school_id (unused: every school's part needs the whole scope).
SELECT case_id, class_id, school_id, school_name, class_name, grade
FROM case_classes
WHERE case_id = $case_id AND $school_id IS NOT NULL
