resource "google_cloud_scheduler_job" "scan" {
  project     = var.project_id
  region      = var.region
  name        = "fleetscan"
  description = "Scans ${local.scope} for GKE clusters exposed to known issues."
  schedule    = var.schedule
  time_zone   = var.time_zone

  pubsub_target {
    topic_name = google_pubsub_topic.requests.id
    data       = base64encode(jsonencode({ scope = local.scope }))
  }

  depends_on = [google_project_service.apis]
}
