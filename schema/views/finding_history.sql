-- One row per finding_key and scope over every complete scan: when it was first and last seen,
-- in how many scans, and its current status: the status in the scope's latest complete scan, or
-- RESOLVED when that scan no longer has it.
WITH history AS (
  SELECT
    f.finding_key,
    s.scope,
    MIN(f.scanned_at) AS first_seen,
    MAX(f.scanned_at) AS last_seen,
    COUNT(DISTINCT f.scan_id) AS scans_seen,
    ARRAY_AGG(
      STRUCT(f.issue_id, f.title, f.project_id, f.location, f.cluster, f.node_pool, f.severity)
      ORDER BY f.scanned_at DESC LIMIT 1
    )[OFFSET(0)] AS last
  FROM `${project}.${dataset}.findings` AS f
  JOIN `${project}.${dataset}.complete_scans` AS s USING (scan_id)
  GROUP BY f.finding_key, s.scope
)
SELECT
  h.finding_key,
  h.scope,
  h.last.issue_id AS issue_id,
  h.last.title AS title,
  h.last.project_id AS project_id,
  h.last.location AS location,
  h.last.cluster AS cluster,
  h.last.node_pool AS node_pool,
  COALESCE(lf.severity, h.last.severity) AS severity,
  h.first_seen,
  h.last_seen,
  h.scans_seen,
  COALESCE(lf.status, 'RESOLVED') AS current_status
FROM history AS h
LEFT JOIN `${project}.${dataset}.latest_findings` AS lf
  ON lf.finding_key = h.finding_key AND lf.scope = h.scope
