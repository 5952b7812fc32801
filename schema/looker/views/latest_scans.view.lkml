# Each scope's latest complete scan (BigQuery view latest_scans): one row per
# scope.
view: latest_scans {
  sql_table_name: `@{PROJECT}.@{DATASET}.latest_scans` ;;

  dimension: scope {
    primary_key: yes
    description: "What was scanned: organizations/N, folders/N, projects/ID, or files:… for an offline scan."
    sql: ${TABLE}.scope ;;
  }

  dimension: scan_id {
    label: "Scan ID"
    sql: ${TABLE}.scan_id ;;
  }

  dimension: organization_id {
    label: "Organization ID"
    sql: ${TABLE}.organization_id ;;
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

  measure: count {
    label: "Scopes"
    type: count
  }
}
