-- The redaction log (contract.md): one row per withheld item, and per reviewer override,
-- with who decided it, when, under which rule, basis and policy version; a release that
-- needed a second reviewer names who confirmed it (confirmed_by, after the contract's columns).
-- Parameters: $case_id (NULL for all cases), $date_from, $date_to (NULL for no bound; dates
-- of the decision in Oslo time, inclusive).
SELECT ci.case_id, ci.student_id, ci.guardian_id, ci.field, ci.decision, ci.rule, ci.legal_basis,
       ci.consent_state, ci.decided_by,
       ci.decided_at AT TIME ZONE 'Europe/Oslo' AS decided_at,
       c.policy_version, ci.override_reason,
       (SELECT string_agg(DISTINCT 'reviewer:' || e.actor, '; ')
        FROM case_events AS e
        WHERE e.case_id = ci.case_id AND e.event = 'release_confirmed'
          AND e.occurred_at >= ci.decided_at
          AND list_contains(json_keys(e.detail, '$.items'), ci.item_id)) AS confirmed_by
FROM case_items AS ci
JOIN cases AS c USING (case_id)
WHERE (ci.decision = 'withhold' OR ci.override_reason IS NOT NULL)
  AND ($case_id IS NULL OR ci.case_id = $case_id)
  AND ($date_from IS NULL OR (ci.decided_at AT TIME ZONE 'Europe/Oslo')::DATE >= $date_from)
  AND ($date_to IS NULL OR (ci.decided_at AT TIME ZONE 'Europe/Oslo')::DATE <= $date_to)
ORDER BY ci.case_id, ci.item_id;
