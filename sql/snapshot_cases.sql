-- A work-pool worker's copy of a case's row, for rendering one school's lists (flows/pool/):
-- what the lists need, without the requester, whom only the letter names (the writer renders
-- the letter). Inserted BY NAME on the worker. Parameters: $case_id, $school_id.
SELECT case_id, request_id, received_at, '' AS requester_name, requester_kind, scope_school_id,
       scope_classes, registered_by, status, policy_name, policy_version, policy_hash, data_hash,
       registered_at, decided_at
FROM cases
WHERE case_id = $case_id AND $school_id IS NOT NULL
