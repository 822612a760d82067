-- Consent conflicts for the school to follow up: a guardian ticked a field, and the policy
-- withheld it all the same (consent_state = 'consent_not_sufficient'), in the cases received
-- in the period. Ids, class and school names only; one row per pupil, guardian and rule,
-- with the fields and cases it concerns. Rows under a no-trace rule are left out: listing
-- their ids in a report that travels wider than the case's review copy would point at a
-- pupil whose address the police have graded (they are counted in compliance_withheld.sql).
-- Needs the temp table case_deadlines. Parameters: $date_from, $date_to (DATEs, inclusive).
SELECT any_value(cc.school_name) AS school_name, i.class_id, any_value(cc.class_name) AS class_name,
       i.student_id, i.guardian_id, i.rule,
       list(DISTINCT i.field ORDER BY i.field) AS fields,
       list(DISTINCT i.case_id ORDER BY i.case_id) AS case_ids
FROM case_items AS i
JOIN case_deadlines AS d USING (case_id)
JOIN case_classes AS cc ON cc.case_id = i.case_id AND cc.class_id = i.class_id
WHERE i.consent_state = 'consent_not_sufficient'
  AND NOT i.no_trace
  AND d.received_date BETWEEN $date_from AND $date_to
GROUP BY i.class_id, i.student_id, i.guardian_id, i.rule
ORDER BY school_name, class_name, i.class_id, i.student_id, i.guardian_id NULLS FIRST, i.rule;
