# Parts of a scope a scan could not read (the scan_errors table); the scan
# went on without them. The natural key is
# (scan_id, resource, api, code, message); a retried write can store a row
# twice, and the count is distinct on that key.
view: scan_errors {
  sql_table_name: `@{PROJECT}.@{DATASET}.scan_errors` ;;

  dimension: pk {
    primary_key: yes
    hidden: yes
    sql: TO_JSON_STRING([${TABLE}.scan_id, ${TABLE}.resource, ${TABLE}.api, ${TABLE}.code, ${TABLE}.message]) ;;
  }

  dimension: scan_id {
    label: "Scan ID"
    sql: ${TABLE}.scan_id ;;
  }

  dimension_group: scanned {
    type: time
    timeframes: [raw, time, date, week, month]
    sql: ${TABLE}.scanned_at ;;
  }

  dimension: project_id {
    label: "Project ID"
    sql: ${TABLE}.project_id ;;
  }

  dimension: resource {
    description: "What could not be read: projects/ID, folders/N, or an asset."
    sql: ${TABLE}.resource ;;
  }

  dimension: api {
    label: "API"
    description: "cloudasset, container, resourcemanager or logging."
    sql: ${TABLE}.api ;;
  }

  dimension: code {
    description: "The API error code, e.g. PERMISSION_DENIED."
    sql: ${TABLE}.code ;;
  }

  dimension: message {
    sql: ${TABLE}.message ;;
  }

  measure: count {
    label: "Errors"
    type: count
    drill_fields: [scan_id, project_id, resource, api, code, message]
  }

  measure: projects_failed {
    description: "Distinct projects with an error."
    type: count_distinct
    sql: ${TABLE}.project_id ;;
  }

  measure: scans_with_errors {
    type: count_distinct
    sql: ${TABLE}.scan_id ;;
  }
}
