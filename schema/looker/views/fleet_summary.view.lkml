# Per scope, issue, severity and status in the latest complete scan (BigQuery
# view fleet_summary): affected clusters and node pools out of the clusters
# scanned. The counts are already aggregated: affected_clusters adds up across
# scopes for one issue and status, but not across issues or statuses (a
# cluster can have several); clusters_scanned is per scope and repeats on
# every row of it. A scope without findings has no row.
view: fleet_summary {
  sql_table_name: `@{PROJECT}.@{DATASET}.fleet_summary` ;;

  dimension: pk {
    primary_key: yes
    hidden: yes
    sql: CONCAT(${TABLE}.scope, '/', ${TABLE}.issue_id, '/', ${TABLE}.severity, '/', ${TABLE}.status) ;;
  }

  dimension: scope {
    sql: ${TABLE}.scope ;;
  }

  dimension: issue_id {
    label: "Issue ID"
    sql: ${TABLE}.issue_id ;;
  }

  dimension: title {
    sql: ${TABLE}.title ;;
  }

  dimension: severity {
    sql: ${TABLE}.severity ;;
    order_by_field: severity_rank
  }

  dimension: severity_rank {
    type: number
    description: "CRITICAL 5, HIGH 4, MEDIUM 3, LOW 2, INFO 1."
    sql: CASE ${TABLE}.severity WHEN 'CRITICAL' THEN 5 WHEN 'HIGH' THEN 4 WHEN 'MEDIUM' THEN 3 WHEN 'LOW' THEN 2 WHEN 'INFO' THEN 1 ELSE 0 END ;;
  }

  dimension: status {
    sql: ${TABLE}.status ;;
  }

  dimension: affected_clusters {
    type: number
    sql: ${TABLE}.affected_clusters ;;
  }

  dimension: affected_node_pools {
    type: number
    sql: ${TABLE}.affected_node_pools ;;
  }

  dimension: clusters_scanned {
    type: number
    description: "Clusters in the scope's latest complete scan: the denominator."
    sql: ${TABLE}.clusters_scanned ;;
  }

  dimension: dataplane_v2_clusters {
    label: "Dataplane V2 clusters"
    type: number
    sql: ${TABLE}.dataplane_v2_clusters ;;
  }

  dimension: affected_share {
    type: number
    description: "affected_clusters / clusters_scanned."
    sql: ${TABLE}.affected_share ;;
    value_format_name: percent_1
  }

  measure: count {
    label: "Rows"
    type: count
  }

  measure: total_affected_clusters {
    description: "Sum of affected clusters: exact for one issue and status; across issues or statuses a cluster counts once per row."
    type: sum
    sql: ${TABLE}.affected_clusters ;;
  }

  measure: total_affected_node_pools {
    type: sum
    sql: ${TABLE}.affected_node_pools ;;
  }

  measure: total_clusters_scanned {
    description: "Clusters scanned, once per scope (overlapping scopes count a cluster in each)."
    type: sum_distinct
    sql_distinct_key: ${TABLE}.scope ;;
    sql: ${TABLE}.clusters_scanned ;;
  }

  measure: total_dataplane_v2_clusters {
    label: "Total Dataplane V2 clusters"
    type: sum_distinct
    sql_distinct_key: ${TABLE}.scope ;;
    sql: ${TABLE}.dataplane_v2_clusters ;;
  }

  measure: share_affected {
    description: "Total affected clusters / total clusters scanned: exact for one issue and status."
    type: number
    sql: SAFE_DIVIDE(${total_affected_clusters}, ${total_clusters_scanned}) ;;
    value_format_name: percent_1
  }
}
