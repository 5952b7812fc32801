resource "google_bigquery_dataset" "fleetscan" {
  project     = var.project_id
  dataset_id  = var.dataset_id
  location    = var.dataset_location
  description = "fleetscan: GKE clusters exposed to known issues."
  labels      = local.labels
  depends_on  = [google_project_service.apis]
}

resource "google_bigquery_table" "tables" {
  for_each            = local.tables
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.fleetscan.dataset_id
  table_id            = each.key
  schema              = file("${path.module}/../schema/tables/${each.key}.json")
  clustering          = each.value.clustering
  deletion_protection = true
  labels              = local.labels

  time_partitioning {
    type  = "DAY"
    field = each.value.partition
  }
}

# Views are created in order, each after the tables and the views before it.
resource "google_bigquery_table" "complete_scans" {
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.fleetscan.dataset_id
  table_id            = "complete_scans"
  deletion_protection = false
  view {
    query          = templatefile("${path.module}/../schema/views/complete_scans.sql", { project = var.project_id, dataset = var.dataset_id })
    use_legacy_sql = false
  }
  depends_on = [google_bigquery_table.tables]
}

resource "google_bigquery_table" "latest_scans" {
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.fleetscan.dataset_id
  table_id            = "latest_scans"
  deletion_protection = false
  view {
    query          = templatefile("${path.module}/../schema/views/latest_scans.sql", { project = var.project_id, dataset = var.dataset_id })
    use_legacy_sql = false
  }
  depends_on = [google_bigquery_table.complete_scans]
}

resource "google_bigquery_table" "latest_findings" {
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.fleetscan.dataset_id
  table_id            = "latest_findings"
  deletion_protection = false
  view {
    query          = templatefile("${path.module}/../schema/views/latest_findings.sql", { project = var.project_id, dataset = var.dataset_id })
    use_legacy_sql = false
  }
  depends_on = [google_bigquery_table.latest_scans]
}

resource "google_bigquery_table" "latest_clusters" {
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.fleetscan.dataset_id
  table_id            = "latest_clusters"
  deletion_protection = false
  view {
    query          = templatefile("${path.module}/../schema/views/latest_clusters.sql", { project = var.project_id, dataset = var.dataset_id })
    use_legacy_sql = false
  }
  depends_on = [google_bigquery_table.latest_scans]
}

resource "google_bigquery_table" "fleet_summary" {
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.fleetscan.dataset_id
  table_id            = "fleet_summary"
  deletion_protection = false
  view {
    query          = templatefile("${path.module}/../schema/views/fleet_summary.sql", { project = var.project_id, dataset = var.dataset_id })
    use_legacy_sql = false
  }
  depends_on = [google_bigquery_table.latest_findings, google_bigquery_table.latest_clusters]
}

resource "google_bigquery_table" "finding_history" {
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.fleetscan.dataset_id
  table_id            = "finding_history"
  deletion_protection = false
  view {
    query          = templatefile("${path.module}/../schema/views/finding_history.sql", { project = var.project_id, dataset = var.dataset_id })
    use_legacy_sql = false
  }
  depends_on = [google_bigquery_table.latest_findings]
}

resource "google_bigquery_table" "upgrade_plan" {
  project             = var.project_id
  dataset_id          = google_bigquery_dataset.fleetscan.dataset_id
  table_id            = "upgrade_plan"
  deletion_protection = false
  view {
    query          = templatefile("${path.module}/../schema/views/upgrade_plan.sql", { project = var.project_id, dataset = var.dataset_id })
    use_legacy_sql = false
  }
  depends_on = [google_bigquery_table.latest_findings, google_bigquery_table.latest_clusters]
}
