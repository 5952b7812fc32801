-- Each scope's latest complete scan.
SELECT
  scope,
  ARRAY_AGG(STRUCT(scan_id, organization_id, started_at, finished_at) ORDER BY started_at DESC LIMIT 1)[OFFSET(0)].*
FROM `${project}.${dataset}.complete_scans`
GROUP BY scope
