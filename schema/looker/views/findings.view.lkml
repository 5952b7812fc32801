# The findings of each scope's latest complete scan (BigQuery view
# latest_findings): the findings table's columns plus scope, one row per
# (scan_id, finding_key).
view: findings {
  sql_table_name: `@{PROJECT}.@{DATASET}.latest_findings` ;;

  dimension: pk {
    primary_key: yes
    hidden: yes
    sql: CONCAT(${TABLE}.scan_id, '/', ${TABLE}.finding_key) ;;
  }

  # --- Scan ---------------------------------------------------------------

  dimension: scope {
    description: "What was scanned: organizations/N, folders/N, projects/ID, or files:… for an offline scan."
    sql: ${TABLE}.scope ;;
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

  dimension: catalog_version {
    description: "Content hash of the known-issue catalog used."
    sql: ${TABLE}.catalog_version ;;
  }

  # --- Where ----------------------------------------------------------------

  dimension: finding_key {
    description: "Stable across scans: a hash of project, location, cluster, node pool and issue ID."
    sql: ${TABLE}.finding_key ;;
  }

  dimension: organization_id {
    label: "Organization ID"
    sql: ${TABLE}.organization_id ;;
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

  dimension: cluster_id {
    label: "Cluster ID"
    sql: ${TABLE}.cluster_id ;;
  }

  dimension: node_pool {
    description: "The node pool, or empty for a cluster-level finding."
    sql: ${TABLE}.node_pool ;;
  }

  dimension: cluster_level {
    type: yesno
    description: "Yes for a cluster-level finding (control plane, or a cluster without node pools)."
    sql: COALESCE(${TABLE}.node_pool, '') = '' ;;
  }

  dimension: cluster_key {
    hidden: yes
    sql: CONCAT(${TABLE}.project_id, '/', ${TABLE}.location, '/', ${TABLE}.cluster) ;;
  }

  dimension: node_pool_key {
    hidden: yes
    sql: IF(COALESCE(${TABLE}.node_pool, '') != '', CONCAT(${TABLE}.project_id, '/', ${TABLE}.location, '/', ${TABLE}.cluster, '/', ${TABLE}.node_pool), NULL) ;;
  }

  # --- What -----------------------------------------------------------------

  dimension: issue_id {
    label: "Issue ID"
    sql: ${TABLE}.issue_id ;;
  }

  dimension: title {
    sql: ${TABLE}.title ;;
  }

  dimension: severity {
    description: "CRITICAL, HIGH, MEDIUM, LOW or INFO; sorts by severity rank."
    sql: ${TABLE}.severity ;;
    order_by_field: severity_rank
  }

  dimension: category {
    description: "The catalog entry's group, as GKE's known-issues page groups issues: Networking, Nodes, Upgrades, Storage, Security, Operations, Autoscaling, Logging and monitoring, GPUs and accelerators, Version support."
    sql: ${TABLE}.category ;;
  }

  dimension: severity_rank {
    type: number
    description: "CRITICAL 5, HIGH 4, MEDIUM 3, LOW 2, INFO 1."
    sql: CASE ${TABLE}.severity WHEN 'CRITICAL' THEN 5 WHEN 'HIGH' THEN 4 WHEN 'MEDIUM' THEN 3 WHEN 'LOW' THEN 2 WHEN 'INFO' THEN 1 ELSE 0 END ;;
  }

  dimension: status {
    description: "AFFECTED (every condition holds), OBSERVED (symptom in Cloud Logging) or UNKNOWN (could not be decided)."
    sql: ${TABLE}.status ;;
  }

  dimension: component {
    description: "What was compared: control_plane or node_pool."
    sql: ${TABLE}.component ;;
  }

  dimension: version {
    description: "The compared version."
    sql: ${TABLE}.version ;;
  }

  dimension: fixed_in {
    description: "The first fixed version on this minor; empty when none is documented."
    sql: ${TABLE}.fixed_in ;;
  }

  dimension: has_fix {
    type: yesno
    description: "Yes when a fixed version is documented for this minor."
    sql: COALESCE(${TABLE}.fixed_in, '') != '' ;;
  }

  dimension: reason {
    description: "One sentence a person can act on."
    sql: ${TABLE}.reason ;;
  }

  dimension: remediation {
    sql: ${TABLE}.remediation ;;
  }

  dimension: docs_url {
    label: "Docs URL"
    sql: ${TABLE}.docs_url ;;
    link: {
      label: "Open documentation"
      url: "{{ value }}"
    }
  }

  # The REPEATED evidence records, for the finding_evidence UNNEST join.
  dimension: evidence {
    hidden: yes
    sql: ${TABLE}.evidence ;;
  }

  dimension: evidence_records {
    type: number
    description: "How many evidence records support the finding."
    sql: ARRAY_LENGTH(${TABLE}.evidence) ;;
  }

  # --- Measures ---------------------------------------------------------------

  measure: count {
    label: "Findings"
    type: count
    drill_fields: [finding_details*]
  }

  measure: affected_clusters {
    description: "Distinct clusters (project/location/cluster) with a finding in the selection; filter on Status for AFFECTED only."
    type: count_distinct
    sql: ${cluster_key} ;;
    drill_fields: [finding_details*]
  }

  measure: affected_node_pools {
    description: "Distinct node pools with a node-pool-level finding in the selection."
    type: count_distinct
    sql: ${node_pool_key} ;;
    drill_fields: [finding_details*]
  }

  measure: affected_findings {
    type: count
    filters: [status: "AFFECTED"]
    drill_fields: [finding_details*]
  }

  measure: observed_findings {
    description: "Findings whose symptom is in Cloud Logging."
    type: count
    filters: [status: "OBSERVED"]
    drill_fields: [finding_details*]
  }

  measure: unknown_findings {
    description: "Findings that could not be decided: never a silent pass."
    type: count
    filters: [status: "UNKNOWN"]
    drill_fields: [finding_details*]
  }

  measure: projects {
    description: "Distinct projects with a finding in the selection."
    type: count_distinct
    sql: ${TABLE}.project_id ;;
  }

  measure: issues {
    description: "Distinct issue IDs in the selection."
    type: count_distinct
    sql: ${TABLE}.issue_id ;;
  }

  measure: max_severity_rank {
    description: "The highest severity rank in the selection (CRITICAL 5 … INFO 1)."
    type: max
    sql: ${severity_rank} ;;
  }

  set: finding_details {
    fields: [severity, issue_id, status, project_id, location, cluster, node_pool, version, fixed_in, reason]
  }
}
