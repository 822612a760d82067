-- Working days to decision for the cases decided in the period (median; 90th percentile,
-- linearly interpolated like quantile_cont; how many kept the target; how many came after
-- the five-day limit), and the cases received by the end of the period still open today.
-- Needs the temp table case_deadlines. Parameters: $date_from, $date_to (DATEs, inclusive).
WITH decided AS (
    SELECT * FROM case_deadlines WHERE decided_date BETWEEN $date_from AND $date_to
),
still_open AS (
    SELECT * FROM case_deadlines WHERE is_open AND received_date <= $date_to
)
SELECT (SELECT count(*) FROM decided) AS decided,
       (SELECT median(working_days_used) FROM decided) AS median_working_days,
       (SELECT quantile_cont(working_days_used, 0.9) FROM decided) AS p90_working_days,
       (SELECT count(*) FROM decided WHERE deadline_state = 'within_target') AS within_target,
       (SELECT count(*) FROM decided WHERE deadline_state = 'past_limit') AS decided_past_limit,
       (SELECT count(*) FROM still_open) AS open_cases,
       (SELECT count(*) FROM still_open WHERE overdue) AS open_past_target,
       (SELECT count(*) FROM still_open WHERE deadline_state = 'past_limit') AS open_past_limit;
