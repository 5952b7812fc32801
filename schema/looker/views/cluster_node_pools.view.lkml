# One node pool of a cluster: the REPEATED RECORD clusters.node_pools,
# UNNESTed by the clusters explore (${TABLE} is the UNNEST alias).
view: cluster_node_pools {
  dimension: pk {
    primary_key: yes
    hidden: yes
    sql: CONCAT(${clusters.pk}, '/', ${TABLE}.name) ;;
  }

  dimension: name {
    label: "Node pool"
    sql: ${TABLE}.name ;;
  }

  dimension: version {
    label: "Node pool version"
    sql: ${TABLE}.version ;;
  }

  dimension: image_type {
    sql: ${TABLE}.image_type ;;
  }

  measure: count {
    label: "Node pools"
    type: count
  }
}
