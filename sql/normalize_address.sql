-- normalize_address(street, postal_code): a key that equal addresses share however they are
-- spelled. Case, spacing and punctuation are ignored, the usual abbreviations are expanded
-- (gt./gata -> gate, vn./veien -> vei; accents dropped, so allé = alle) and a house letter is joined to its
-- number ("12 B" = "12b"). Used to match guardians' addresses against institutions.
CREATE OR REPLACE MACRO normalize_street(street) AS
    regexp_replace(                                   -- 4. drop every space: "Stor gate" = "Storgate"
    regexp_replace(                                   -- 3. "12 b" -> "12b"
    regexp_replace(                                   -- 2b. vn / veien -> vei
    regexp_replace(                                   -- 2a. gt / gata -> gate
    regexp_replace(                                   -- 1. punctuation -> space
        lower(strip_accents(coalesce(street, ''))),     -- 0. case and accents: allé = alle
        '[.,;:/\-]+', ' ', 'g'),
        '(gt|gata)(\s|$)', 'gate\2', 'g'),
        '(vn|veien)(\s|$)', 'vei\2', 'g'),
        '(\d)\s+([a-z])(\s|$)', '\1\2\3', 'g'),
        '\s+', '', 'g');

CREATE OR REPLACE MACRO normalize_address(street, postal_code) AS
    normalize_street(street) || '|' || lpad(regexp_replace(coalesce(postal_code, ''), '\D', '', 'g'), 4, '0');
