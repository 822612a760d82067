-- normalize_address(street, postal_code): a key that equal addresses share however they are
-- spelled; NULL when the street is missing, so an empty address matches nothing.
-- Used to match guardians' addresses against the register of institution addresses.
--
-- normalize_street(street), step by step (tests/test_institution_matching.py has the table):
--   0. case and letters: lower case; ø -> o, æ -> ae, accents dropped (å -> a, allé = alle),
--      aa -> a (Haakon = Håkon = Hakon)
--   1. "v." ending a word is short for vei ("Kirkev. 5"); taken before the dots go
--   2. punctuation -> space ("gt." = "gt", "12-b" = "12 b")
--   3. street words at the end of a word: gt / gata / gaten -> gate, vn / veien -> vei,
--      and a lone "st" -> sankt ("St. Olavs gate")
--   4. a flat number (bruksenhetsnummer "H0101") is dropped: the building is the address
--   5. every space goes: "12 B" = "12b", "Stor gate" = "Storgate"
-- The postal code keeps its digits only, with a lost leading zero put back ("168" = "0168").
-- TEMP: the macros live in the connection, not in the database file.
CREATE OR REPLACE TEMP MACRO normalize_street(street) AS
    replace(                                               -- 5. drop every space
    regexp_replace(                                        -- 4. flat number
    regexp_replace(                                        -- 3c. st -> sankt
    regexp_replace(                                        -- 3b. vn / veien -> vei
    regexp_replace(                                        -- 3a. gt / gata / gaten -> gate
    regexp_replace(                                        -- 2. punctuation -> space
    regexp_replace(                                        -- 1. v. -> vei
    replace(                                               -- 0c. aa -> a
        strip_accents(                                     -- 0b. accents: å -> a, é -> e
            replace(replace(lower(coalesce(street, '')), 'ø', 'o'), 'æ', 'ae')),  -- 0a.
        'aa', 'a'),
        '([a-z])v\.', '\1vei ', 'g'),
        '[^a-z0-9]+', ' ', 'g'),
        '(gt|gata|gaten)\b', 'gate', 'g'),
        '(vn|veien)\b', 'vei', 'g'),
        '\bst\b', 'sankt', 'g'),
        '\bh\d{4}\b', '', 'g'),
        ' ', '');                                         -- (after step 2 the only blanks are spaces)

CREATE OR REPLACE TEMP MACRO normalize_postal_code(postal_code) AS
    CASE WHEN length(regexp_replace(coalesce(postal_code, ''), '\D', '', 'g')) BETWEEN 1 AND 3
         THEN lpad(regexp_replace(postal_code, '\D', '', 'g'), 4, '0')
         ELSE regexp_replace(coalesce(postal_code, ''), '\D', '', 'g') END;

CREATE OR REPLACE TEMP MACRO normalize_address(street, postal_code) AS
    CASE WHEN normalize_street(street) = '' THEN NULL
         ELSE normalize_street(street) || '|' || normalize_postal_code(postal_code) END;
