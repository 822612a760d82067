-- Consent coverage per school, lowest first: the share of the school's pupils whose name the
-- class lists show (at least one guardian ticked share_names). From the register as it is now.
SELECT c.school_id, s.name AS school_name,
       count(DISTINCT c.class_id) AS classes,
       count(*) AS pupils,
       count(*) FILTER (p.name_visible) AS visible,
       count(*) FILTER (p.name_visible) / count(*) AS share
FROM (
    SELECT st.student_id, st.class_id,
           coalesce((SELECT bool_or(g.share_names) FROM guardians AS g WHERE g.student_id = st.student_id),
                    false) AS name_visible
    FROM students AS st
) AS p
JOIN classes AS c USING (class_id)
JOIN schools AS s USING (school_id)
GROUP BY c.school_id, s.name
ORDER BY share, s.name, c.school_id;
