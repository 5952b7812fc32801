-- One row per cluster of each scope's latest complete scan that has an upgrade to make: its
-- current versions, the one upgrade that clears its version-decided findings (the control plane's
-- target, each node pool's in node_pools.upgrade_to, the steps in order), how many findings it
-- clears and the most severe of them, or why no offered version clears them.
WITH cleared AS (
  SELECT
    scope,
    scan_id,
    project_id,
    location,
    cluster,
    COUNT(*) AS findings_cleared,
    MAX(CASE severity WHEN 'CRITICAL' THEN 5 WHEN 'HIGH' THEN 4 WHEN 'MEDIUM' THEN 3 WHEN 'LOW' THEN 2 ELSE 1 END) AS severity_rank
  FROM `${project}.${dataset}.latest_findings`
  WHERE upgrade_to != ''
  GROUP BY scope, scan_id, project_id, location, cluster
)
SELECT
  c.scope,
  c.scan_id,
  c.project_id,
  c.location,
  c.cluster,
  c.cluster_id,
  c.release_channel,
  c.master_version,
  c.node_version,
  c.upgrade_control_plane_to,
  c.node_pools,
  c.upgrade_steps,
  c.upgrade_clears,
  c.upgrade_reason,
  COALESCE(k.findings_cleared, 0) AS findings_cleared,
  CASE k.severity_rank WHEN 5 THEN 'CRITICAL' WHEN 4 THEN 'HIGH' WHEN 3 THEN 'MEDIUM' WHEN 2 THEN 'LOW' WHEN 1 THEN 'INFO' END AS most_severe
FROM `${project}.${dataset}.latest_clusters` AS c
LEFT JOIN cleared AS k USING (scope, scan_id, project_id, location, cluster)
WHERE c.upgrade_clears > 0 OR c.upgrade_reason != ''
