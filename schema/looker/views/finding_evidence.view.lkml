# One evidence record of a finding: the REPEATED RECORD findings.evidence,
# UNNESTed by the findings explore (no table of its own; ${TABLE} is the
# UNNEST alias finding_evidence).
view: finding_evidence {
  # finding_evidence_offset is the WITH OFFSET alias of the UNNEST join.
  dimension: pk {
    primary_key: yes
    hidden: yes
    sql: CONCAT(${findings.pk}, '/', CAST(finding_evidence_offset AS STRING)) ;;
  }

  dimension: source {
    description: "container_api, cloud_logging or kubernetes_api."
    sql: ${TABLE}.source ;;
  }

  dimension: summary {
    description: "What the evidence says."
    sql: ${TABLE}.summary ;;
  }

  dimension: event_count {
    label: "Count"
    type: number
    description: "Occurrences: 1 for an API field, the events' counts for logs."
    sql: ${TABLE}.count ;;
  }

  dimension_group: first_seen {
    type: time
    timeframes: [raw, time, date, week, month]
    description: "The first matching log entry in the window."
    sql: ${TABLE}.first_seen ;;
  }

  dimension_group: last_seen {
    type: time
    timeframes: [raw, time, date, week, month]
    description: "The last matching log entry in the window."
    sql: ${TABLE}.last_seen ;;
  }

  dimension: nodes {
    description: "Nodes where the symptom was logged (at most 20), comma-separated."
    sql: ARRAY_TO_STRING(${TABLE}.nodes, ', ') ;;
  }

  dimension: node_count {
    type: number
    description: "How many nodes the symptom was logged on (at most 20 are kept)."
    sql: ARRAY_LENGTH(${TABLE}.nodes) ;;
  }

  dimension: sample {
    description: "One log message."
    sql: ${TABLE}.sample ;;
  }

  dimension: query {
    description: "The Cloud Logging filter that found the entries."
    sql: ${TABLE}.query ;;
  }

  measure: count {
    label: "Evidence records"
    type: count
  }

  measure: total_events {
    description: "Sum of the evidence counts: log events, or 1 per API field."
    type: sum
    sql: ${event_count} ;;
  }
}
