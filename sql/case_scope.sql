-- The classes a request covers: its school (or every school) and its class names (or all).
-- Parameters: $school_id ('all' for every school), $all_classes (boolean), $class_names (list).
SELECT c.class_id, c.school_id, s.name AS school_name, c.name AS class_name, c.grade
FROM classes AS c
JOIN schools AS s USING (school_id)
WHERE ($school_id = 'all' OR c.school_id = $school_id)
  AND ($all_classes OR list_contains($class_names, c.name))
ORDER BY c.school_id, c.grade, c.name, c.class_id;
