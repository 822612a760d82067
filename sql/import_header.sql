-- Record one file's header row. $file: 'schools', …; $header: its column names, in order.
INSERT INTO import_headers
SELECT $file, position, $header[position]
FROM range(1, len($header) + 1) AS r (position);
