# One row per scan or shard of a scan (the scans table), as written:
# PLANNED, COMPLETE or COMPLETE_WITH_ERRORS. The natural key is
# (scan_id, shard, status); a retried write can store a row twice, so the
# sums are sum_distinct on that key.
view: scans {
  sql_table_name: `@{PROJECT}.@{DATASET}.scans` ;;

  dimension: pk {
    primary_key: yes
    hidden: yes
    sql: CONCAT(${TABLE}.scan_id, '/', COALESCE(CAST(${TABLE}.shard AS STRING), ''), '/', ${TABLE}.status) ;;
  }

  dimension: scan_id {
    label: "Scan ID"
    description: "The scan; shards of one scan share it."
    sql: ${TABLE}.scan_id ;;
  }

  dimension: scope {
    description: "What was scanned: organizations/N, folders/N, projects/ID, or files:… for an offline scan."
    sql: ${TABLE}.scope ;;
  }

  dimension: organization_id {
    label: "Organization ID"
    sql: ${TABLE}.organization_id ;;
  }

  dimension: shard {
    type: number
    description: "This row's shard, 0-based; 0 of 1 for an unsharded scan."
    sql: ${TABLE}.shard ;;
  }

  dimension: shards {
    type: number
    description: "How many shards the scan has."
    sql: ${TABLE}.shards ;;
  }

  dimension: status {
    description: "COMPLETE, COMPLETE_WITH_ERRORS (see scan errors), or PLANNED for a fanned-out scan not yet done."
    sql: ${TABLE}.status ;;
  }

  dimension_group: started {
    type: time
    timeframes: [raw, time, date, week, month]
    sql: ${TABLE}.started_at ;;
  }

  dimension_group: finished {
    type: time
    timeframes: [raw, time, date, week, month]
    sql: ${TABLE}.finished_at ;;
  }

  dimension: duration_seconds {
    type: number
    sql: TIMESTAMP_DIFF(${TABLE}.finished_at, ${TABLE}.started_at, SECOND) ;;
  }

  dimension: catalog_version {
    description: "Content hash of the known-issue catalog used."
    sql: ${TABLE}.catalog_version ;;
  }

  dimension: lookback {
    description: "Cloud Logging window of the evidence, as a Go duration."
    sql: ${TABLE}.lookback ;;
  }

  dimension: projects {
    type: number
    description: "Projects with at least one cluster (this shard)."
    sql: ${TABLE}.projects ;;
  }

  dimension: projects_failed {
    type: number
    description: "Projects with an error in scan errors (this shard)."
    sql: ${TABLE}.projects_failed ;;
  }

  dimension: clusters {
    type: number
    sql: ${TABLE}.clusters ;;
  }

  dimension: dataplane_v2_clusters {
    label: "Dataplane V2 clusters"
    type: number
    sql: ${TABLE}.dataplane_v2_clusters ;;
  }

  dimension: findings {
    type: number
    sql: ${TABLE}.findings ;;
  }

  dimension: affected {
    type: number
    sql: ${TABLE}.affected ;;
  }

  dimension: observed {
    type: number
    sql: ${TABLE}.observed ;;
  }

  dimension: unknown {
    type: number
    sql: ${TABLE}.unknown ;;
  }

  dimension: skipped_checks {
    type: number
    sql: ${TABLE}.skipped_checks ;;
  }

  dimension: errors {
    type: number
    sql: ${TABLE}.errors ;;
  }

  dimension: log_events {
    type: number
    sql: ${TABLE}.log_events ;;
  }

  dimension: log_events_unmatched {
    type: number
    description: "Log events from clusters not in the inventory."
    sql: ${TABLE}.log_events_unmatched ;;
  }

  # --- Measures: per-shard counts add up to the scan's; across scans they
  # count the same cluster once per scan.

  measure: count {
    label: "Scan rows"
    type: count
    drill_fields: [scan_details*]
  }

  measure: scan_count {
    label: "Scans"
    type: count_distinct
    sql: ${TABLE}.scan_id ;;
    drill_fields: [scan_details*]
  }

  measure: total_projects {
    type: sum_distinct
    sql_distinct_key: ${pk} ;;
    sql: ${TABLE}.projects ;;
  }

  measure: total_projects_failed {
    type: sum_distinct
    sql_distinct_key: ${pk} ;;
    sql: ${TABLE}.projects_failed ;;
  }

  measure: total_clusters {
    type: sum_distinct
    sql_distinct_key: ${pk} ;;
    sql: ${TABLE}.clusters ;;
  }

  measure: total_dataplane_v2_clusters {
    label: "Total Dataplane V2 clusters"
    type: sum_distinct
    sql_distinct_key: ${pk} ;;
    sql: ${TABLE}.dataplane_v2_clusters ;;
  }

  measure: total_findings {
    type: sum_distinct
    sql_distinct_key: ${pk} ;;
    sql: ${TABLE}.findings ;;
  }

  measure: total_affected {
    type: sum_distinct
    sql_distinct_key: ${pk} ;;
    sql: ${TABLE}.affected ;;
  }

  measure: total_observed {
    type: sum_distinct
    sql_distinct_key: ${pk} ;;
    sql: ${TABLE}.observed ;;
  }

  measure: total_unknown {
    type: sum_distinct
    sql_distinct_key: ${pk} ;;
    sql: ${TABLE}.unknown ;;
  }

  measure: total_skipped_checks {
    type: sum_distinct
    sql_distinct_key: ${pk} ;;
    sql: ${TABLE}.skipped_checks ;;
  }

  measure: total_errors {
    type: sum_distinct
    sql_distinct_key: ${pk} ;;
    sql: ${TABLE}.errors ;;
  }

  measure: total_log_events {
    type: sum_distinct
    sql_distinct_key: ${pk} ;;
    sql: ${TABLE}.log_events ;;
  }

  measure: total_log_events_unmatched {
    type: sum_distinct
    sql_distinct_key: ${pk} ;;
    sql: ${TABLE}.log_events_unmatched ;;
  }

  set: scan_details {
    fields: [scan_id, scope, shard, shards, status, started_time, finished_time, clusters, findings, errors]
  }
}
