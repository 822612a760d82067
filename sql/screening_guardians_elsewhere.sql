-- Adds to the temp table screening_guardians the rows its guardians have for pupils outside
-- the case: a guardian whose other child has a graded address, or who is registered at an
-- institution on that child's row, is protected in this case too.
-- (flows/screening.py skips this when the case's rows are all the register's rows.)
INSERT INTO screening_guardians
SELECT g.guardian_id, 'pupil_address_' || gp.address_protection,
       g.address_protection, g.phone_unlisted, g.street_address, g.postal_code
FROM guardians AS g
ANTI JOIN (SELECT s.student_id FROM students AS s SEMI JOIN screening_scope USING (class_id)) AS p
    USING (student_id)
LEFT JOIN (SELECT student_id, address_protection FROM students WHERE address_protection <> 'ugradert') AS gp
    USING (student_id)
WHERE g.guardian_id IN (SELECT guardian_id FROM screening_guardians);
