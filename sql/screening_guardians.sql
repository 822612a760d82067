-- The guardians of a case's pupils, one row per guardian and pupil, with what screening needs
-- to find their own markers: an unlisted phone, their address, and whether the name in their
-- place is an institution's (no names, no other contact details). Graded addresses are
-- found per household, over the whole register (sql/screening_households.sql).
-- Needs the temp table screening_scope (sql/screening_scope.sql). Produces the temp table
-- screening_guardians; sql/screening_guardians_elsewhere.sql adds their rows for pupils
-- outside the case (a guardian is protected wherever a marker of theirs comes from).
CREATE OR REPLACE TEMP TABLE screening_guardians AS
SELECT g.guardian_id, g.student_id, g.phone_unlisted, g.street_address, g.postal_code,
       institution_name(g.first_name, g.last_name) AS institution_name
FROM guardians AS g
SEMI JOIN (SELECT s.student_id FROM students AS s SEMI JOIN screening_scope USING (class_id)) AS p
    USING (student_id);
