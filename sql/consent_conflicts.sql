-- Consent conflicts, for the school's follow-up: a guardian ticked a field in Skolemelding,
-- and a marker withholds it all the same, under a rule the guardian's consent cannot lift.
-- Every value in a case's list was ticked (an unticked field is never in it), so every
-- value screening withheld is one: the case_items rows in state consent_not_sufficient,
-- no-trace rows included (the school still needs to know; the public never does).
-- For a pupil's name guardian_id is NULL: the name was ticked by the guardian(s) with
-- share_names. Ids only, never a value. No parameters: every case; wrap it to filter, e.g.
--   SELECT * FROM (<this file>) WHERE case_id = ?
SELECT ci.case_id, cc.school_id, ci.class_id, ci.student_id, ci.guardian_id, ci.field, ci.rule
FROM case_items AS ci
JOIN case_classes AS cc USING (case_id, class_id)
WHERE ci.consent_state = 'consent_not_sufficient'
ORDER BY ci.case_id, cc.school_id, ci.class_id, ci.student_id, ci.guardian_id NULLS FIRST, ci.field
