-- How many consent conflicts fall under a no-trace rule in the cases received in the period:
-- a count only (see compliance_consent_conflicts.sql for why they are not listed by id).
-- Needs the temp table case_deadlines. Parameters: $date_from, $date_to (DATEs, inclusive).
SELECT count(*) AS items, count(DISTINCT i.case_id) AS cases
FROM case_items AS i
JOIN case_deadlines AS d USING (case_id)
WHERE i.consent_state = 'consent_not_sufficient'
  AND i.no_trace
  AND d.received_date BETWEEN $date_from AND $date_to;
