-- Each scope's latest complete scan. A tie on started_at goes to the greater scan_id, so every
-- view that reads this one (latest_findings, latest_clusters, and both in fleet_summary) picks
-- the same scan.
SELECT * EXCEPT (latest_rank)
FROM (
  SELECT
    scope,
    scan_id,
    organization_id,
    started_at,
    finished_at,
    ROW_NUMBER() OVER (PARTITION BY scope ORDER BY started_at DESC, scan_id DESC) AS latest_rank
  FROM `${project}.${dataset}.complete_scans`
)
WHERE latest_rank = 1
