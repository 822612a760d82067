-- Values withheld in the cases received in the period, by the policy rule that withheld
-- them and its legal basis. No-trace rules (strengt fortrolig adresse) are counted here:
-- this report is internal, and a count per rule over many cases names nobody.
-- Needs the temp table case_deadlines. Parameters: $date_from, $date_to (DATEs, inclusive).
SELECT i.rule,
       string_agg(DISTINCT i.legal_basis, '; ' ORDER BY i.legal_basis) AS legal_basis,
       count(*) AS items,
       count(DISTINCT i.case_id) AS cases,
       bool_or(i.no_trace) AS no_trace
FROM case_items AS i
JOIN case_deadlines AS d USING (case_id)
WHERE i.decision = 'withhold'
  AND d.received_date BETWEEN $date_from AND $date_to
GROUP BY i.rule
ORDER BY items DESC, i.rule;
