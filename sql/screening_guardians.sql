-- The guardians of a case's pupils, one row per guardian and pupil, with what screening needs
-- to find their markers: whether their pupil's address is graded, their own grade, an
-- unlisted phone, and their address (no names, no other contact details, no pupil ids).
-- Needs the temp table screening_scope (sql/screening_scope.sql). Produces the temp table
-- screening_guardians; sql/screening_guardians_elsewhere.sql adds their rows for pupils
-- outside the case (a guardian is protected wherever a marker of theirs comes from).
CREATE OR REPLACE TEMP TABLE screening_guardians AS
SELECT g.guardian_id, 'pupil_address_' || gp.address_protection AS household_marker,
       g.address_protection, g.phone_unlisted, g.street_address, g.postal_code
FROM guardians AS g
SEMI JOIN (SELECT s.student_id FROM students AS s SEMI JOIN screening_scope USING (class_id)) AS p
    USING (student_id)
-- the household of a graded pupil (graded pupils are few: a small table to look up in)
LEFT JOIN (SELECT student_id, address_protection FROM students WHERE address_protection <> 'ugradert') AS gp
    USING (student_id);
