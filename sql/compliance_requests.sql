-- Requests received and decided in the period, by requester kind: every kind the contract
-- knows (zeros too, so the table always has the same rows), then any other kind found.
-- Needs the temp table case_deadlines. Parameters: $date_from, $date_to (DATEs, inclusive).
WITH known (requester_kind, kind_order) AS (
    VALUES ('journalist', 1), ('private', 2), ('commercial', 3), ('organisation', 4), ('anonymous', 5)
),
kinds AS (
    SELECT requester_kind, kind_order FROM known
    UNION
    SELECT DISTINCT requester_kind, 99 FROM case_deadlines
    WHERE requester_kind NOT IN (SELECT requester_kind FROM known)
)
SELECT k.requester_kind,
       count(d.case_id) FILTER (d.received_date BETWEEN $date_from AND $date_to) AS received,
       count(d.case_id) FILTER (d.decided_date BETWEEN $date_from AND $date_to) AS decided
FROM kinds AS k
LEFT JOIN case_deadlines AS d USING (requester_kind)
GROUP BY k.requester_kind, k.kind_order
ORDER BY k.kind_order, k.requester_kind;
