-- The class lists an eInnsyn order's documents are (journal_documents, the export's mapping).
--   $documents: [{'n': 1, 'system_id': …, 'saksnr': …, 'dokumentnr': …}, …]
-- A document matches on system_id when it has one, else on saksnr + dokumentnr. One row per
-- document, in order; school_id and class_id are NULL when it matches nothing.
WITH ordered AS (
    SELECT unnest($documents, recursive := true)
)
SELECT o.n, j.school_id, j.class_id, c.name AS class_name
FROM ordered o
LEFT JOIN journal_documents j
    ON CASE WHEN o.system_id IS NOT NULL THEN j.system_id = o.system_id
            ELSE j.saksnr = o.saksnr AND j.dokumentnr = o.dokumentnr END
LEFT JOIN classes c ON c.class_id = j.class_id
ORDER BY o.n;
