-- The clusters of each scope's latest complete scan, one row per cluster: the denominator of
-- every report (a retried write can store a row twice; this view keeps one).
SELECT * EXCEPT (dup_rank)
FROM (
  SELECT
    l.scope,
    c.*,
    ROW_NUMBER() OVER (PARTITION BY c.scan_id, c.project_id, c.location, c.cluster ORDER BY c.scanned_at DESC) AS dup_rank
  FROM `${project}.${dataset}.clusters` AS c
  JOIN `${project}.${dataset}.latest_scans` AS l USING (scan_id)
)
WHERE dup_rank = 1
