-- normalize_address(street, postal_code): a key that equal addresses share however they are
-- spelled; NULL when the street is missing, so an empty address matches nothing.
-- Used to match guardians' addresses against the register of institution addresses, and
-- against the addresses of graded households (sql/screening_households.sql).
--
-- normalize_street(street), step by step (tests/test_institution_matching.py has the table):
--   0. case and letters: lower case; ø -> o, æ -> ae, accents dropped (å -> a, allé = alle),
--      aa -> a (Haakon = Håkon = Hakon)
--   1. a "c/o <name>," in front is who the mail goes through, not where: dropped up to the comma
--   2. "v." ending a word is short for vei ("Kirkev. 5"); taken before the dots go
--   3. where in the building is not which building: a floor ("2. etasje", "3. etg."), a
--      flat ("leil. 301", "leilighet 4", a bruksenhetsnummer "H0101" or "H 0101") are dropped,
--      and "nr." before the house number is dropped ("Storgata nr. 10")
--   4. punctuation -> space ("gt." = "gt", "12-b" = "12 b")
--   5. street words at the end of a word: gt / gata / gaten -> gate, vn / veien -> vei, and
--      nynorsk veg / vegen -> vei; a lone "st" -> sankt ("St. Olavs gate")
--   6. every space goes: "12 B" = "12b", "Stor gate" = "Storgate"
-- The postal code keeps its digits only, with a lost leading zero put back ("168" = "0168").
-- TEMP: the macros live in the connection, not in the database file.
CREATE OR REPLACE TEMP MACRO normalize_street(street) AS
    replace(                                               -- 6. drop every space
    regexp_replace(                                        -- 5d. st -> sankt
    regexp_replace(                                        -- 5c. veg / vegen -> vei
    regexp_replace(                                        -- 5b. vn / veien -> vei
    regexp_replace(                                        -- 5a. gt / gata / gaten -> gate
    regexp_replace(                                        -- 4. punctuation -> space
    regexp_replace(                                        -- 3d. "nr." before a number
    regexp_replace(                                        -- 3c. bruksenhetsnummer
    regexp_replace(                                        -- 3b. leil. 301, leilighet 4
    regexp_replace(                                        -- 3a. 2. etasje, 3. etg.
    regexp_replace(                                        -- 2. v. -> vei
    regexp_replace(                                        -- 1. c/o <name>,
    replace(                                               -- 0c. aa -> a
        strip_accents(                                     -- 0b. accents: å -> a, é -> e
            replace(replace(lower(coalesce(street, '')), 'ø', 'o'), 'æ', 'ae')),  -- 0a.
        'aa', 'a'),
        '^\s*c\s*/\s*o\b[^,]*,', ''),
        '([a-z])v\.', '\1vei ', 'g'),
        '\b\d+\s*\.?\s*(etasje|etg)\b\.?', ' ', 'g'),
        '\b(leil|leilighet|leiligheit|leilegheit)\b\.?\s*(nr\b\.?)?\s*[a-z]?\d+[a-z]?\b', ' ', 'g'),
        '\b[hlku]\s?\d{4}\b', ' ', 'g'),
        '\bnr\b\.?\s*(\d)', '\1', 'g'),
        '[^a-z0-9]+', ' ', 'g'),
        '(gt|gata|gaten)\b', 'gate', 'g'),
        '(vn|veien)\b', 'vei', 'g'),
        '(veg|vegen)\b', 'vei', 'g'),
        '\bst\b', 'sankt', 'g'),
        ' ', '');                                         -- (after step 4 the only blanks are spaces)

CREATE OR REPLACE TEMP MACRO normalize_postal_code(postal_code) AS
    CASE WHEN length(regexp_replace(coalesce(postal_code, ''), '\D', '', 'g')) BETWEEN 1 AND 3
         THEN lpad(regexp_replace(postal_code, '\D', '', 'g'), 4, '0')
         ELSE regexp_replace(coalesce(postal_code, ''), '\D', '', 'g') END;

CREATE OR REPLACE TEMP MACRO normalize_address(street, postal_code) AS
    CASE WHEN normalize_street(street) = '' THEN NULL
         ELSE normalize_street(street) || '|' || normalize_postal_code(postal_code) END;

-- normalize_phone(phone): the digits, without Norway's country code (+47 / 0047), so
-- "+47 412 34 567" = "41234567"; '' when fewer than five digits are left (too short to be
-- anyone's number).
CREATE OR REPLACE TEMP MACRO normalize_phone(phone) AS
    CASE WHEN length(regexp_replace(coalesce(phone, ''), '\D', '', 'g')) < 5 THEN ''
         ELSE regexp_replace(regexp_replace(coalesce(phone, ''), '\D', '', 'g'), '^(0047|47)(\d{8})$', '\2') END;

-- normalize_email(email): trimmed and lower-case; '' when there is no "@".
CREATE OR REPLACE TEMP MACRO normalize_email(email) AS
    CASE WHEN strpos(coalesce(email, ''), '@') = 0 THEN '' ELSE lower(trim(email)) END;

-- institution_name(first_name, last_name): true when the name in a guardian's place is an
-- institution's: one in the register of institutions (case and spacing aside), or a name
-- with a word no person is called (a child-welfare service, an institution, a hospital).
-- An institution in a parent's place reveals a placement whatever its address.
CREATE OR REPLACE TEMP MACRO institution_name(first_name, last_name) AS
    regexp_matches(lower(concat_ws(' ', first_name, last_name)),
                   '(barnevern|bufetat|bufdir|institusjon|omsorgssenter|ungdomshjem|barnehjem|beredskapshjem|fosterhjem|avlastningsbolig|sykehus|klientadresse)')
    OR regexp_replace(lower(concat_ws(' ', first_name, last_name)), '\s+', ' ', 'g')
       IN (SELECT regexp_replace(lower(trim(name)), '\s+', ' ', 'g') FROM institutions);

-- value_key(value): a value as the leak gate compares it (flows/leak_gate.py, normalise):
-- NFC, lower case, without whitespace or invisible characters. Two values with one key
-- read the same in a PDF.
CREATE OR REPLACE TEMP MACRO value_key(value) AS
    regexp_replace(lower(nfc_normalize(coalesce(value, ''))),
                   '[\s\x{00AD}\x{200B}-\x{200F}\x{202A}-\x{202E}\x{2060}-\x{2064}\x{2066}-\x{2069}\x{FEFF}]+', '', 'g');

-- normalize_dwelling(street): which home in the building, where the address says so, as
-- '<kind>:<number>' ('b:h0201' a bruksenhetsnummer, 'l:301' a flat number, 'e:2' a floor),
-- the most precise one written; '' when it does not say. Two addresses of one building are
-- one home unless both say which home, in the same way, and differ (sql/screening_households.sql):
-- a neighbour in flat H0201 is not a co-resident of H0301, but "Storgata 5" may be either.
CREATE OR REPLACE TEMP MACRO normalize_dwelling(street) AS
    coalesce(
        'b:' || nullif(regexp_replace(regexp_extract(lower(coalesce(street, '')), '\b([hlku])\s?(\d{4})\b', 0), '\s', '', 'g'), ''),
        'l:' || nullif(regexp_extract(lower(coalesce(street, '')), '\b(leil|leilighet|leiligheit|leilegheit)\b\.?\s*(nr\b\.?)?\s*([a-z]?\d+[a-z]?)\b', 3), ''),
        'e:' || nullif(regexp_extract(lower(coalesce(street, '')), '\b(\d+)\s*\.?\s*(etasje|etg)\b', 1), ''),
        '');

-- same_dwelling(a, b): the designations of two addresses in one building name one home.
CREATE OR REPLACE TEMP MACRO same_dwelling(a, b) AS
    a = '' OR b = '' OR split_part(a, ':', 1) <> split_part(b, ':', 1) OR a = b;
