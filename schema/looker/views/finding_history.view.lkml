# One row per finding_key and scope over every complete scan (BigQuery view
# finding_history): when it was first and last seen, in how many scans, and
# its current status: the status in the scope's latest complete scan, or
# RESOLVED when that scan no longer has it.
view: finding_history {
  sql_table_name: `@{PROJECT}.@{DATASET}.finding_history` ;;

  dimension: pk {
    primary_key: yes
    hidden: yes
    sql: CONCAT(${TABLE}.finding_key, '/', ${TABLE}.scope) ;;
  }

  dimension: finding_key {
    description: "Stable across scans: a hash of project, location, cluster, node pool and issue ID."
    sql: ${TABLE}.finding_key ;;
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

  dimension: project_id {
    label: "Project ID"
    sql: ${TABLE}.project_id ;;
  }

  dimension: location {
    sql: ${TABLE}.location ;;
  }

  dimension: cluster {
    sql: ${TABLE}.cluster ;;
  }

  dimension: cluster_key {
    hidden: yes
    sql: CONCAT(${TABLE}.project_id, '/', ${TABLE}.location, '/', ${TABLE}.cluster) ;;
  }

  dimension: node_pool {
    description: "The node pool, or empty for a cluster-level finding."
    sql: ${TABLE}.node_pool ;;
  }

  dimension: severity {
    description: "The current severity, or the last seen one once resolved."
    sql: ${TABLE}.severity ;;
    order_by_field: severity_rank
  }

  dimension: severity_rank {
    type: number
    description: "CRITICAL 5, HIGH 4, MEDIUM 3, LOW 2, INFO 1."
    sql: CASE ${TABLE}.severity WHEN 'CRITICAL' THEN 5 WHEN 'HIGH' THEN 4 WHEN 'MEDIUM' THEN 3 WHEN 'LOW' THEN 2 WHEN 'INFO' THEN 1 ELSE 0 END ;;
  }

  dimension_group: first_seen {
    type: time
    timeframes: [raw, time, date, week, month]
    description: "The first complete scan that had the finding."
    sql: ${TABLE}.first_seen ;;
  }

  dimension_group: last_seen {
    type: time
    timeframes: [raw, time, date, week, month]
    description: "The last complete scan that had the finding."
    sql: ${TABLE}.last_seen ;;
  }

  dimension: days_seen {
    type: number
    description: "Days from the first to the last scan that had the finding."
    sql: TIMESTAMP_DIFF(${TABLE}.last_seen, ${TABLE}.first_seen, DAY) ;;
  }

  dimension: scans_seen {
    type: number
    description: "How many complete scans had the finding (not necessarily consecutive)."
    sql: ${TABLE}.scans_seen ;;
  }

  dimension: current_status {
    description: "AFFECTED, OBSERVED or UNKNOWN in the scope's latest complete scan, or RESOLVED when that scan no longer has it."
    sql: ${TABLE}.current_status ;;
  }

  dimension: resolved {
    type: yesno
    sql: ${TABLE}.current_status = 'RESOLVED' ;;
  }

  measure: count {
    label: "Findings"
    type: count
    drill_fields: [history_details*]
  }

  measure: resolved_findings {
    type: count
    filters: [resolved: "yes"]
    drill_fields: [history_details*]
  }

  measure: open_findings {
    description: "Findings still in the scope's latest complete scan."
    type: count
    filters: [resolved: "no"]
    drill_fields: [history_details*]
  }

  measure: affected_clusters {
    description: "Distinct clusters (project/location/cluster) in the selection."
    type: count_distinct
    sql: ${cluster_key} ;;
  }

  measure: average_days_seen {
    type: average
    sql: ${days_seen} ;;
    value_format_name: decimal_1
  }

  set: history_details {
    fields: [severity, issue_id, current_status, project_id, location, cluster, node_pool, first_seen_date, last_seen_date, scans_seen]
  }
}
