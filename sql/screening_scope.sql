-- The classes of one case, with the class-wide markers' facts: what the other screening
-- statements start from (screening_findings.sql, consented_class_list.sql).
-- Parameter: $case_id. Produces the temp table screening_scope.
CREATE OR REPLACE TEMP TABLE screening_scope AS
SELECT c.class_id, c.special_group, s.special_school
FROM case_classes AS cc
JOIN classes AS c USING (class_id)
JOIN schools AS s ON s.school_id = c.school_id
WHERE cc.case_id = $case_id;
