-- How many of a case's classes belong to the given schools: the bulk work still to render.
-- Parameters: $case_id, $school_ids (a list).
SELECT count(*)
FROM case_classes
WHERE case_id = $case_id
  AND list_contains($school_ids, school_id);
