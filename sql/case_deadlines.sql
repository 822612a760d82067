-- Every case with its deadlines in working days, counted from the day after receipt in Oslo
-- time (offentleglova § 29; § 32 first paragraph: no answer within five working days counts
-- as a refusal that can be appealed).
--   target_date           the last day to answer within our own target ($target_days)
--   implied_refusal_date  the fifth working day after receipt: with no answer by the end of
--                         it, the request counts as refused ($refusal_days = 5)
--   decided_date          the day the answer went out (a case is decided when released)
--   working_days_used     receipt to decision, or receipt to $today while the case is open
--   deadline_state        within_target | past_target | past_limit, by the decision date
--                         (or $today while open) against the two deadlines
-- Needs the temp table working_days(day) from innsyn.workdays.load_working_days, covering
-- every day of receipt and enough working days after the last one.
-- Parameters: $today (DATE), $target_days, $refusal_days. Produces the temp table case_deadlines.
CREATE OR REPLACE TEMP TABLE case_deadlines AS
WITH numbered AS (
    SELECT day, row_number() OVER (ORDER BY day) AS n FROM working_days
),
local_dates AS (
    SELECT case_id, request_id, status, outcome, requester_kind,
           CAST(timezone('Europe/Oslo', received_at) AS DATE) AS received_date,
           CASE WHEN released_at IS NOT NULL
                THEN CAST(timezone('Europe/Oslo', coalesce(decided_at, released_at)) AS DATE) END AS decided_date,
           CAST(timezone('Europe/Oslo', released_at) AS DATE) AS released_date
    FROM cases
),
-- A day's rank is the number of working days up to and including it, so the working days
-- between two days are the difference of their ranks, and the n-th working day after a day
-- is the one numbered rank + n.
ranked AS (
    SELECT d.*,
           (SELECT count(*) FROM working_days AS w WHERE w.day <= d.received_date) AS received_rank,
           (SELECT count(*) FROM working_days AS w
            WHERE w.day <= greatest(coalesce(d.decided_date, $today), d.received_date)) AS until_rank
    FROM local_dates AS d
),
dated AS (
    SELECT r.case_id, r.request_id, r.status, r.outcome, r.requester_kind,
           r.received_date,
           (SELECT day FROM numbered WHERE n = r.received_rank + $target_days) AS target_date,
           (SELECT day FROM numbered WHERE n = r.received_rank + $refusal_days) AS implied_refusal_date,
           r.decided_date, r.released_date,
           r.until_rank - r.received_rank AS working_days_used,
           r.decided_date IS NULL AS is_open
    FROM ranked AS r
)
SELECT *,
       -- by date, not by count: an answer on the Saturday after the fifth working day is late
       CASE WHEN coalesce(decided_date, $today) > implied_refusal_date THEN 'past_limit'
            WHEN coalesce(decided_date, $today) > target_date THEN 'past_target'
            ELSE 'within_target' END AS deadline_state,
       -- open and past our own target: these come first in every list
       is_open AND $today > target_date AS overdue,
       greatest(working_days_used - $target_days, 0) AS working_days_past_target,
       greatest(working_days_used - $refusal_days, 0) AS working_days_past_limit
FROM dated;
