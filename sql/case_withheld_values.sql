-- The withheld values the leak gate looks for in a case's public answer. A value that is
-- also released for someone else in the same case (two guardians with one phone number) is
-- left out: its presence is no leak. Parameter: $case_id.
SELECT w.item_id, w.value
FROM case_items AS w
WHERE w.case_id = $case_id
  AND w.decision = 'withhold'
  AND NOT EXISTS (
      SELECT 1 FROM case_items AS r
      WHERE r.case_id = w.case_id AND r.decision = 'release'
        AND lower(regexp_replace(r.value, '\s+', '', 'g')) = lower(regexp_replace(w.value, '\s+', '', 'g'))
  )
ORDER BY w.item_id;
