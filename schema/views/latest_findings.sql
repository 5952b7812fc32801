-- The findings of each scope's latest complete scan, one row per finding: a redelivered or
-- retried write can store a row twice, and this view keeps one row per (scan_id, finding_key).
SELECT * EXCEPT (dup_rank)
FROM (
  SELECT
    l.scope,
    f.*,
    ROW_NUMBER() OVER (PARTITION BY f.scan_id, f.finding_key ORDER BY f.scanned_at DESC) AS dup_rank
  FROM `${project}.${dataset}.findings` AS f
  JOIN `${project}.${dataset}.latest_scans` AS l USING (scan_id)
)
WHERE dup_rank = 1
