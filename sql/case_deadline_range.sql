-- The days the working-day calendar must cover for the cases' deadlines: the first day of
-- receipt and the last day of receipt or decision, in Oslo time, among the days innsyn can
-- count from ($first_day to $last_day: see sql/case_deadlines.sql). NULLs when no case has one.
SELECT min(received_date) FILTER (WHERE received_date BETWEEN $first_day AND $last_day) AS first,
       max(last_date) FILTER (WHERE last_date BETWEEN $first_day AND $last_day) AS last
FROM (
    SELECT CAST(timezone('Europe/Oslo', received_at) AS DATE) AS received_date,
           CAST(timezone('Europe/Oslo', coalesce(decided_at, released_at, received_at)) AS DATE) AS last_date
    FROM cases
);
