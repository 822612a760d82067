-- A fingerprint of what households are made of: every guardian row's ids, home, e-mail, phone
-- and grade, and every pupil's grade. Equal fingerprints, equal households: screening reuses
-- the households found for it (household_cache) instead of finding them again over the whole
-- register for every request. Order does not matter (XOR of row hashes).
SELECT (SELECT count(*) FROM guardians)::VARCHAR
       || ':' || coalesce((SELECT bit_xor(hash(guardian_id, student_id, street_address, postal_code, email, phone,
                                               address_protection)) FROM guardians), 0)::VARCHAR
       || ':' || coalesce((SELECT bit_xor(hash(student_id, address_protection)) FROM students), 0)::VARCHAR;
