-- Consent coverage per class, lowest first: the share of pupils whose name the class list
-- shows, i.e. with at least one guardian who ticked share_names (as in
-- consented_class_list.sql). From the register as it is now; classes without pupils are left
-- out (no share to speak of).
SELECT c.school_id, s.name AS school_name, c.class_id, c.name AS class_name, c.grade,
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
GROUP BY c.school_id, s.name, c.class_id, c.name, c.grade
ORDER BY share, s.name, c.grade, c.name, c.class_id;
