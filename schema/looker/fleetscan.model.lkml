# fleetscan: GKE clusters exposed to known GKE issues.
#
# CHANGE THIS: the name of your Looker connection to the BigQuery project that
# holds the fleetscan dataset (set PROJECT and DATASET in manifest.lkml).
connection: "fleetscan_bigquery"

include: "/views/*.view.lkml"

# What is exposed right now: the findings of each scope's latest complete scan.
explore: findings {
  label: "Current findings"
  description: "The findings of each scope's latest complete scan, one row per finding, with the cluster as that scan saw it and the evidence behind each finding."

  # The clusters rows of the same scan. Only clusters with a finding appear
  # here: for the fleet denominator use the Clusters explore or Fleet summary.
  join: clusters {
    view_label: "Clusters"
    type: left_outer
    relationship: many_to_one
    sql_on: ${findings.scan_id} = ${clusters.scan_id}
      AND ${findings.project_id} = ${clusters.project_id}
      AND ${findings.location} = ${clusters.location}
      AND ${findings.cluster} = ${clusters.cluster} ;;
  }

  # evidence is a REPEATED RECORD of findings: one row per evidence record.
  join: finding_evidence {
    view_label: "Evidence"
    sql: LEFT JOIN UNNEST(${findings.evidence}) AS finding_evidence WITH OFFSET AS finding_evidence_offset ;;
    relationship: one_to_many
  }
}

# Every finding ever seen, per scope: first and last seen, current status
# (RESOLVED once the scope's latest complete scan no longer has it).
explore: finding_history {
  label: "Finding history"
  description: "One row per finding and scope over every complete scan: first seen, last seen, scans seen and current status (RESOLVED once gone)."
}

# One upgrade per cluster of the latest complete scan that clears its
# version-decided findings, with versions GKE offers it.
explore: upgrade_plan {
  label: "Upgrade plan"
  description: "One row per cluster of each scope's latest complete scan with an upgrade to make: control plane and pool targets, steps in order, findings cleared and the most severe of them."
}

# Per scope, issue, severity and status in the latest complete scan: affected
# clusters and node pools out of the clusters scanned.
explore: fleet_summary {
  label: "Fleet summary"
  description: "Per scope, issue, severity and status in the latest complete scan: affected clusters and node pools, clusters scanned, share. A scope without findings has no row."
}

# Every scan and shard as written, with what could not be read.
explore: scans {
  label: "Scans"
  description: "One row per scan shard (PLANNED, COMPLETE or COMPLETE_WITH_ERRORS), with the parts of the scope that could not be read."

  # scan_errors has no shard column, so each error joins every shard row of
  # its scan: many_to_many (not one_to_many) keeps both sides' measures right
  # through symmetric aggregates.
  join: scan_errors {
    view_label: "Scan errors"
    type: left_outer
    relationship: many_to_many
    sql_on: ${scans.scan_id} = ${scan_errors.scan_id} ;;
  }
}

# Every cluster of each scope's latest complete scan: the denominator of every
# report, with its node pools.
explore: clusters {
  label: "Clusters (latest scans)"
  description: "Every cluster of each scope's latest complete scan, with its node pools: the denominator of every report."
  # The inner join to latest_scans is the filter to latest scans: always apply it.
  always_join: [latest_scans]

  join: latest_scans {
    view_label: "Latest scan"
    type: inner
    relationship: many_to_one
    sql_on: ${clusters.scan_id} = ${latest_scans.scan_id} ;;
  }

  # node_pools is a REPEATED RECORD of clusters.
  join: cluster_node_pools {
    view_label: "Node pools"
    sql: LEFT JOIN UNNEST(${clusters.node_pools}) AS cluster_node_pools ;;
    relationship: one_to_many
  }
}
