-- What screening a case again changed: every item whose value, decision, rule or trace differs
-- from what the case held before (a reviewer's override included), and every item that came
-- (a value the register has now) or went. Ids only.
-- Needs the temp table rescreen_before (the case's items before, as flows/rescreen.py keeps
-- them). Parameter: $case_id.
WITH now_items AS (
    SELECT item_id, value, decision, rule, no_trace FROM case_items WHERE case_id = $case_id
)
SELECT coalesce(a.item_id, b.item_id) AS item_id,
       CASE WHEN b.item_id IS NULL THEN 'added'
            WHEN a.item_id IS NULL THEN 'removed'
            ELSE 'changed' END AS change
FROM now_items AS a
FULL OUTER JOIN rescreen_before AS b ON a.item_id = b.item_id
WHERE a.item_id IS NULL OR b.item_id IS NULL
   OR a.value IS DISTINCT FROM b.value
   OR a.decision IS DISTINCT FROM b.decision
   OR a.rule IS DISTINCT FROM b.rule
   OR a.no_trace IS DISTINCT FROM b.no_trace
ORDER BY item_id;
