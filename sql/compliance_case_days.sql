-- One row per case the period's figures speak of: decided in the period, or received by its
-- end and still open today. Oldest receipt first: the chart of working days per case.
-- Needs the temp table case_deadlines. Parameters: $date_from, $date_to (DATEs, inclusive).
SELECT case_id, status, received_date, target_date, implied_refusal_date, decided_date,
       working_days_used, is_open, deadline_state, overdue
FROM case_deadlines
WHERE decided_date BETWEEN $date_from AND $date_to
   OR (is_open AND received_date <= $date_to)
ORDER BY received_date, case_id;
