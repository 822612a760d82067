-- The members of graded households that a case touches, and how each was reached
-- (sql/screening_households.sql): the review copy says why an ungraded pupil or guardian is
-- withheld, and the record keeps it. Ids only. Needs the temp tables household_members,
-- screening_scope and screening_guardians. Parameter: $case_id.
DELETE FROM case_household_members WHERE case_id = $case_id;

INSERT INTO case_household_members (case_id, kind, id, marker, via)
SELECT $case_id, h.kind, h.id, h.marker, h.via
FROM household_members AS h
WHERE (h.kind = 'pupil' AND h.id IN (SELECT s.student_id FROM students AS s SEMI JOIN screening_scope USING (class_id)))
   OR (h.kind = 'guardian' AND h.id IN (SELECT guardian_id FROM screening_guardians));
