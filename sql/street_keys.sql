-- street_keys: the normalised street of every spelling the guardians use, under the current
-- rules ($rules: a hash of sql/normalize_address.sql, whose macros must be loaded).
-- Run by the import, in its transaction: keys of spellings no longer in the register, or made
-- under other rules, go; spellings not keyed yet are keyed. Each spelling once: households
-- share addresses.
DELETE FROM street_keys AS k
WHERE k.rules <> $rules
   OR NOT EXISTS (SELECT 1 FROM guardians AS g WHERE g.street_address = k.street_address);

INSERT INTO street_keys (street_address, street_key, rules)
SELECT street_address, normalize_street(street_address), $rules
FROM (SELECT DISTINCT street_address FROM guardians WHERE street_address IS NOT NULL) AS a
WHERE NOT EXISTS (SELECT 1 FROM street_keys AS k WHERE k.street_address = a.street_address);
