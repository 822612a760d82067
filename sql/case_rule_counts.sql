-- What each rule did in a case, over all its classes: the letter's grounds and outcome and
-- the review copy's summary come from these counts, never from one school's part.
-- Parameter: $case_id. One row per rule (NULL rule: values no rule touched).
SELECT rule,
       count(*) FILTER (decision = 'release')                   AS released,
       count(*) FILTER (decision = 'withhold')                  AS withheld,
       count(*) FILTER (decision = 'withhold' AND NOT no_trace) AS withheld_counted,
       count(*) FILTER (consent_state = 'consent_not_sufficient') AS consent_conflicts
FROM case_items
WHERE case_id = $case_id
GROUP BY rule
ORDER BY rule NULLS FIRST;
