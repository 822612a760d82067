-- The cases as a case handler wants to see them: overdue first (the one nearest to, or
-- furthest past, the five-day limit at the top), then the other open cases by target date,
-- then decided cases, the latest decision first.
-- Needs the temp table case_deadlines (sql/case_deadlines.sql).
-- Parameters: $open_only, $overdue_only (booleans).
SELECT case_id, request_id, status, outcome, requester_kind,
       received_date, target_date, implied_refusal_date, decided_date, released_date,
       working_days_used, is_open, deadline_state, overdue,
       working_days_past_target, working_days_past_limit
FROM case_deadlines
WHERE (is_open OR NOT $open_only)
  AND (overdue OR NOT $overdue_only)
ORDER BY overdue DESC, is_open DESC,
         CASE WHEN is_open THEN implied_refusal_date END,
         decided_date DESC, received_date, case_id;
