-- The class lists of a case withheld in full: nothing released, and something withheld under
-- a rule that leaves a trace (a list emptied only by no-trace rules reads as an empty list,
-- and must). The letter names each one with its basis; the list's page says it is withheld
-- instead of showing an empty table. Parameter: $case_id. One row per class and rule.
WITH classes AS (
    SELECT class_id
    FROM case_items
    WHERE case_id = $case_id
    GROUP BY class_id
    HAVING count(*) FILTER (decision = 'release') = 0
       AND count(*) FILTER (decision = 'withhold' AND NOT no_trace) > 0
)
SELECT DISTINCT ci.class_id, ci.rule
FROM case_items AS ci SEMI JOIN classes USING (class_id)
WHERE ci.case_id = $case_id AND ci.decision = 'withhold' AND NOT ci.no_trace
ORDER BY ci.class_id, ci.rule;
