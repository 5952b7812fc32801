# Every cluster a scan saw (the clusters table): the denominator of every
# report. One row per (scan_id, project_id, location, cluster); a retried
# write can store a row twice, which count_distinct measures ignore.
view: clusters {
  sql_table_name: `@{PROJECT}.@{DATASET}.clusters` ;;

  dimension: pk {
    primary_key: yes
    hidden: yes
    sql: CONCAT(${TABLE}.scan_id, '/', ${TABLE}.project_id, '/', ${TABLE}.location, '/', ${TABLE}.cluster) ;;
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

  dimension: cluster_key {
    hidden: yes
    sql: CONCAT(${TABLE}.project_id, '/', ${TABLE}.location, '/', ${TABLE}.cluster) ;;
  }

  dimension: cluster_id {
    label: "Cluster ID"
    sql: ${TABLE}.cluster_id ;;
  }

  dimension: self_link {
    description: "The cluster's Container API URL."
    sql: ${TABLE}.self_link ;;
  }

  dimension: cluster_status {
    sql: ${TABLE}.cluster_status ;;
  }

  dimension: master_version {
    description: "currentMasterVersion: the control plane's GKE version."
    sql: ${TABLE}.master_version ;;
  }

  dimension: node_version {
    description: "currentNodeVersion: the oldest node's version."
    sql: ${TABLE}.node_version ;;
  }

  dimension: initial_version {
    sql: ${TABLE}.initial_version ;;
  }

  dimension: release_channel {
    sql: ${TABLE}.release_channel ;;
  }

  dimension: datapath_provider {
    description: "networkConfig.datapathProvider; empty when absent (legacy dataplane)."
    sql: ${TABLE}.datapath_provider ;;
  }

  dimension: dataplane_v2 {
    label: "Dataplane V2"
    type: yesno
    description: "Yes when datapath_provider is ADVANCED_DATAPATH."
    sql: ${TABLE}.dataplane_v2 ;;
  }

  dimension: autopilot {
    type: yesno
    sql: ${TABLE}.autopilot ;;
  }

  dimension: vpc_native {
    label: "VPC-native"
    type: yesno
    sql: ${TABLE}.vpc_native ;;
  }

  # The REPEATED node pools, for the cluster_node_pools UNNEST join.
  dimension: node_pools {
    hidden: yes
    sql: ${TABLE}.node_pools ;;
  }

  dimension: node_pool_count {
    type: number
    sql: ARRAY_LENGTH(${TABLE}.node_pools) ;;
  }

  dimension: skipped_checks {
    description: "Issue IDs that need in-cluster (Kubernetes API) access and were not checked, comma-separated."
    sql: ARRAY_TO_STRING(${TABLE}.skipped_checks, ', ') ;;
  }

  dimension: skipped_check_count {
    type: number
    sql: ARRAY_LENGTH(${TABLE}.skipped_checks) ;;
  }

  measure: count {
    label: "Cluster rows"
    type: count
    drill_fields: [cluster_details*]
  }

  measure: clusters_scanned {
    description: "Distinct clusters (project/location/cluster). In the Current findings explore only clusters with a finding are joined: use the Clusters explore for the fleet denominator."
    type: count_distinct
    sql: ${cluster_key} ;;
    drill_fields: [cluster_details*]
  }

  measure: dataplane_v2_clusters {
    label: "Dataplane V2 clusters"
    type: count_distinct
    sql: ${cluster_key} ;;
    filters: [dataplane_v2: "yes"]
    drill_fields: [cluster_details*]
  }

  measure: autopilot_clusters {
    type: count_distinct
    sql: ${cluster_key} ;;
    filters: [autopilot: "yes"]
    drill_fields: [cluster_details*]
  }

  measure: projects {
    description: "Distinct projects with at least one cluster in the selection."
    type: count_distinct
    sql: ${TABLE}.project_id ;;
  }

  set: cluster_details {
    fields: [project_id, location, cluster, master_version, node_version, release_channel, dataplane_v2, autopilot]
  }
}
