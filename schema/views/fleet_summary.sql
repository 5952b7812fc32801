-- Per scope, issue, severity and status in the latest complete scan: how many clusters and
-- node pools are affected, out of how many clusters scanned (the denominator).
WITH scanned AS (
  SELECT
    scope,
    COUNT(*) AS clusters_scanned,
    COUNTIF(dataplane_v2) AS dataplane_v2_clusters
  FROM `${project}.${dataset}.latest_clusters`
  GROUP BY scope
)
SELECT
  f.scope,
  f.issue_id,
  ANY_VALUE(f.title) AS title,
  f.severity,
  f.status,
  COUNT(DISTINCT CONCAT(f.project_id, '/', f.location, '/', f.cluster)) AS affected_clusters,
  COUNT(DISTINCT IF(f.node_pool != '', CONCAT(f.project_id, '/', f.location, '/', f.cluster, '/', f.node_pool), NULL)) AS affected_node_pools,
  ANY_VALUE(s.clusters_scanned) AS clusters_scanned,
  ANY_VALUE(s.dataplane_v2_clusters) AS dataplane_v2_clusters,
  SAFE_DIVIDE(COUNT(DISTINCT CONCAT(f.project_id, '/', f.location, '/', f.cluster)), ANY_VALUE(s.clusters_scanned)) AS affected_share
FROM `${project}.${dataset}.latest_findings` AS f
JOIN scanned AS s USING (scope)
GROUP BY f.scope, f.issue_id, f.severity, f.status
