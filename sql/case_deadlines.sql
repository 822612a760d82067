-- Every case with its deadlines in working days, counted from the day after receipt in Oslo
-- time (offentleglova § 29; § 32 first paragraph: no answer within five working days counts
-- as a refusal that can be appealed).
--   target_date           the last day to answer within our own target ($target_days)
--   implied_refusal_date  the fifth working day after receipt: with no answer by the end of
--                         it, the request counts as refused ($refusal_days = 5)
--   decided_date          the day the answer went out (a case is decided when released)
--   working_days_used     receipt to decision, or receipt to $today while the case is open
--   deadline_state        within_target | past_target | past_limit, by the decision date
--                         (or $today while open) against the two deadlines; unknown (below)
-- A case received outside [$first_day, $last_day] (a year-1 or far-future receipt, which
-- request parsing refuses today but an older version let in) has no deadlines: its dates and
-- working days are NULL and its deadline_state is 'unknown'; while open it counts as
-- overdue, so it is listed with the overdue cases for someone to correct. A day of receipt
-- before year 1 in Oslo time is NULL (no client can represent it). One such row never fails
-- the whole list.
-- Needs the temp table working_days(day) from innsyn.workdays.load_working_days, covering
-- [$first_day, $last_day] and enough working days after it.
-- Parameters: $today (DATE), $target_days, $refusal_days, $first_day, $last_day (DATEs).
-- Produces the temp table case_deadlines.
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
checked AS (
    SELECT *, coalesce(received_date BETWEEN $first_day AND $last_day, false) AS countable
    FROM local_dates
),
-- A day's rank is the number of working days up to and including it, so the working days
-- between two days are the difference of their ranks, and the n-th working day after a day
-- is the one numbered rank + n.
ranked AS (
    SELECT d.*,
           (SELECT count(*) FROM working_days AS w WHERE w.day <= d.received_date) AS received_rank,
           (SELECT count(*) FROM working_days AS w
            WHERE w.day <= greatest(coalesce(d.decided_date, $today), d.received_date)) AS until_rank
    FROM checked AS d
),
dated AS (
    SELECT r.case_id, r.request_id, r.status, r.outcome, r.requester_kind,
           CASE WHEN r.received_date >= DATE '0001-01-01' THEN r.received_date END AS received_date,
           CASE WHEN r.countable THEN (SELECT day FROM numbered WHERE n = r.received_rank + $target_days)
                END AS target_date,
           CASE WHEN r.countable THEN (SELECT day FROM numbered WHERE n = r.received_rank + $refusal_days)
                END AS implied_refusal_date,
           r.decided_date, r.released_date,
           CASE WHEN r.countable THEN r.until_rank - r.received_rank END AS working_days_used,
           r.decided_date IS NULL AS is_open,
           r.countable
    FROM ranked AS r
)
SELECT * EXCLUDE (countable),
       -- by date, not by count: an answer on the Saturday after the fifth working day is late
       CASE WHEN NOT countable THEN 'unknown'
            WHEN coalesce(decided_date, $today) > implied_refusal_date THEN 'past_limit'
            WHEN coalesce(decided_date, $today) > target_date THEN 'past_target'
            ELSE 'within_target' END AS deadline_state,
       -- open and past our own target (or with no target to keep): these come first in every list
       is_open AND (NOT countable OR $today > target_date) AS overdue,
       CASE WHEN countable THEN greatest(working_days_used - $target_days, 0) END AS working_days_past_target,
       CASE WHEN countable THEN greatest(working_days_used - $refusal_days, 0) END AS working_days_past_limit
FROM dated;
