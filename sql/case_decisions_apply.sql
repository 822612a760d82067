-- Applies sql/case_decisions_consistent.sql's consequences: each value listed is withheld
-- under the rule that reached it, as if that rule had decided it (consent cannot lift it:
-- the value was ticked, and the rule says no). Parameter: $case_id.
UPDATE case_items AS t
SET decision = 'withhold', rule = r.rule_id, legal_basis = r.legal_basis, no_trace = r.no_trace,
    requires_review = r.requires_review, consent_state = 'consent_not_sufficient'
FROM decision_consequences AS c
JOIN (SELECT DISTINCT rule_id, legal_basis, no_trace, requires_review FROM policy_rules) AS r
  ON r.rule_id = c.rule
WHERE t.case_id = $case_id AND t.item_id = c.item_id;
