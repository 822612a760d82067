-- Outcomes of the cases decided (answered) in the period, every outcome listed.
-- Needs the temp table case_deadlines. Parameters: $date_from, $date_to (DATEs, inclusive).
WITH outcomes (outcome, outcome_order) AS (
    VALUES ('innvilget', 1), ('delvis_innvilget', 2), ('avslatt', 3)
)
SELECT o.outcome, count(d.case_id) AS decided
FROM outcomes AS o
LEFT JOIN case_deadlines AS d
       ON d.outcome = o.outcome AND d.decided_date BETWEEN $date_from AND $date_to
GROUP BY o.outcome, o.outcome_order
ORDER BY o.outcome_order;
