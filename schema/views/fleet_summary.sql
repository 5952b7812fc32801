-- Per scope, issue, severity and status in the latest complete scan: how many clusters and
-- node pools are affected, out of how many clusters scanned (the denominator). A scope whose
-- latest scan found nothing still has one row (issue_id NULL, 0 affected), so a clean fleet
-- shows as "0 of N" rather than disappearing from reports.
WITH scanned AS (
  SELECT
    scope,
    COUNT(*) AS clusters_scanned,
    COUNTIF(dataplane_v2) AS dataplane_v2_clusters
  FROM `${project}.${dataset}.latest_clusters`
  GROUP BY scope
),
affected AS (
  SELECT
    scope,
    issue_id,
    ANY_VALUE(title) AS title,
    severity,
    status,
    COUNT(DISTINCT CONCAT(project_id, '/', location, '/', cluster)) AS affected_clusters,
    COUNT(DISTINCT IF(node_pool != '', CONCAT(project_id, '/', location, '/', cluster, '/', node_pool), NULL)) AS affected_node_pools
  FROM `${project}.${dataset}.latest_findings`
  GROUP BY scope, issue_id, severity, status
)
SELECT
  s.scope,
  a.issue_id,
  a.title,
  a.severity,
  a.status,
  COALESCE(a.affected_clusters, 0) AS affected_clusters,
  COALESCE(a.affected_node_pools, 0) AS affected_node_pools,
  s.clusters_scanned,
  s.dataplane_v2_clusters,
  SAFE_DIVIDE(COALESCE(a.affected_clusters, 0), s.clusters_scanned) AS affected_share
FROM scanned AS s
LEFT JOIN affected AS a USING (scope)
