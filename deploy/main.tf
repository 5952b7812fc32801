locals {
  scope  = var.scope != "" ? var.scope : "organizations/${var.organization_id}"
  labels = merge({ app = "fleetscan" }, var.labels)

  # BigQuery tables: their schemas are schema/tables/NAME.json, generated
  # from fleetscan's Go row types; partitioning and clustering as the writer
  # creates them (the deploy tests check both sides agree).
  tables = {
    scans       = { partition = "started_at", clustering = ["scope", "scan_id"] }
    clusters    = { partition = "scanned_at", clustering = ["project_id", "cluster"] }
    findings    = { partition = "scanned_at", clustering = ["project_id", "cluster", "issue_id"] }
    scan_errors = { partition = "scanned_at", clustering = ["project_id", "api"] }
  }

  # Views in creation order: each may read the tables and the views before it.
  views = ["complete_scans", "latest_scans", "latest_findings", "latest_clusters", "fleet_summary", "finding_history", "upgrade_plan"]

  services = [
    "bigquery.googleapis.com",
    "cloudasset.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com",
    "cloudscheduler.googleapis.com",
    "container.googleapis.com",
    "artifactregistry.googleapis.com",
    "logging.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "storage.googleapis.com",
  ]
}

data "google_project" "host" {
  project_id = var.project_id
}

resource "google_project_service" "apis" {
  for_each           = toset(local.services)
  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
