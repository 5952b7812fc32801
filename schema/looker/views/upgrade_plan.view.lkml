# One row per cluster of each scope's latest complete scan that has an
# upgrade to make (BigQuery view upgrade_plan): the one upgrade that clears
# its version-decided findings, with the versions GKE offers it.
view: upgrade_plan {
  sql_table_name: `@{PROJECT}.@{DATASET}.upgrade_plan` ;;

  dimension: pk {
    primary_key: yes
    hidden: yes
    sql: CONCAT(${TABLE}.scope, '/', ${TABLE}.project_id, '/', ${TABLE}.location, '/', ${TABLE}.cluster) ;;
  }

  dimension: scope {
    sql: ${TABLE}.scope ;;
  }

  dimension: scan_id {
    label: "Scan ID"
    sql: ${TABLE}.scan_id ;;
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

  dimension: release_channel {
    sql: ${TABLE}.release_channel ;;
  }

  dimension: master_version {
    description: "The control plane's current version."
    sql: ${TABLE}.master_version ;;
  }

  dimension: upgrade_control_plane_to {
    label: "Control plane target"
    description: "The lowest offered version that clears the control plane's version-decided findings (raised when a pool needs more); empty when none."
    sql: ${TABLE}.upgrade_control_plane_to ;;
  }

  dimension: upgrade_steps {
    label: "Steps"
    description: "The plan's steps in order, joined with ' → '."
    sql: ARRAY_TO_STRING(${TABLE}.upgrade_steps, ' → ') ;;
  }

  dimension: upgrade_reason {
    description: "Why the plan is partial or was not checked against offered versions."
    sql: ${TABLE}.upgrade_reason ;;
  }

  dimension: findings_cleared {
    type: number
    sql: ${TABLE}.findings_cleared ;;
  }

  dimension: most_severe {
    description: "The most severe finding the plan clears."
    sql: ${TABLE}.most_severe ;;
    order_by_field: most_severe_rank
  }

  dimension: most_severe_rank {
    type: number
    hidden: yes
    sql: CASE ${TABLE}.most_severe WHEN 'CRITICAL' THEN 5 WHEN 'HIGH' THEN 4 WHEN 'MEDIUM' THEN 3 WHEN 'LOW' THEN 2 WHEN 'INFO' THEN 1 ELSE 0 END ;;
  }

  dimension: complete {
    type: yesno
    description: "Every version-decided finding of the cluster has an offered target."
    sql: ${TABLE}.upgrade_reason = '' ;;
  }

  measure: clusters {
    type: count
    drill_fields: [plan_details*]
  }

  measure: total_findings_cleared {
    type: sum
    sql: ${findings_cleared} ;;
  }

  set: plan_details {
    fields: [most_severe, project_id, location, cluster, master_version, upgrade_control_plane_to, upgrade_steps, findings_cleared, upgrade_reason]
  }
}
