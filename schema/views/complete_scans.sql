-- Scans whose every shard wrote a COMPLETE or COMPLETE_WITH_ERRORS row, once each
-- (a retried write can store a scans row twice; counting distinct shards ignores that).
SELECT
  scan_id,
  scope,
  ANY_VALUE(organization_id) AS organization_id,
  MIN(started_at) AS started_at,
  MAX(finished_at) AS finished_at,
  MAX(shards) AS shards
FROM `${project}.${dataset}.scans`
WHERE status IN ('COMPLETE', 'COMPLETE_WITH_ERRORS')
GROUP BY scan_id, scope
HAVING COUNT(DISTINCT shard) = MAX(shards)
