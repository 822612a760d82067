-- Adds to the temp table screening_guardians the rows its guardians have for pupils outside
-- the case: a guardian with an unlisted phone, or who is registered at an institution, on
-- another child's row is protected in this case too.
-- (flows/screening.py skips this when the case's rows are all the register's rows.)
INSERT INTO screening_guardians
SELECT g.guardian_id, g.student_id, g.phone_unlisted, g.street_address, g.postal_code,
       institution_name(g.first_name, g.last_name)
FROM guardians AS g
ANTI JOIN (SELECT s.student_id FROM students AS s SEMI JOIN screening_scope USING (class_id)) AS p
    USING (student_id)
WHERE g.guardian_id IN (SELECT guardian_id FROM screening_guardians);
