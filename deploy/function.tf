resource "google_storage_bucket" "source" {
  project                     = var.project_id
  name                        = "${var.project_id}-fleetscan-source"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels
  depends_on                  = [google_project_service.apis]
}

# make package builds the archive: the root package, go.mod, go.sum and the
# packages it imports, without tests or test data. A new archive gets a new
# object name, so Terraform redeploys the function.
resource "google_storage_bucket_object" "source" {
  bucket = google_storage_bucket.source.name
  name   = "fleetscan-${filemd5(var.function_source_archive)}.zip"
  source = var.function_source_archive
}

resource "google_cloudfunctions2_function" "scanner" {
  project     = var.project_id
  location    = var.region
  name        = "fleetscan"
  description = "fleetscan: GKE clusters exposed to known issues"
  labels      = local.labels

  build_config {
    runtime     = "go126"
    entry_point = "ScanFleet"
    # The Go buildpack passes GOOGLE_GOLDFLAGS to go build as -ldflags:
    # no symbol table or DWARF in the deployed binary (panics still name
    # functions and lines), 65 MB to 45 MB.
    environment_variables = {
      GOOGLE_GOLDFLAGS = "-s -w"
    }
    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.source.name
      }
    }
  }

  service_config {
    available_memory               = var.function_memory
    timeout_seconds                = 540
    max_instance_count             = var.function_max_instances
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    service_account_email          = google_service_account.scanner.email
    environment_variables = {
      FLEETSCAN_SCOPE             = local.scope
      FLEETSCAN_BIGQUERY          = "${var.project_id}.${google_bigquery_dataset.fleetscan.dataset_id}"
      FLEETSCAN_BIGQUERY_LOCATION = var.dataset_location
      FLEETSCAN_REQUEST_TOPIC     = google_pubsub_topic.requests.id
      FLEETSCAN_ALERT_TOPIC       = google_pubsub_topic.alerts.id
      FLEETSCAN_STATE_BUCKET      = google_storage_bucket.state.name
      FLEETSCAN_DISCOVERY         = var.discovery
      FLEETSCAN_LOOKBACK          = var.lookback
      FLEETSCAN_SHARD_SIZE        = tostring(var.shard_size)
      FLEETSCAN_MAX_EVENT_AGE     = var.max_event_age
      FLEETSCAN_API_TIMEOUT       = var.api_timeout
      FLEETSCAN_KUBERNETES        = var.kubernetes
      FLEETSCAN_API_ENDPOINTS     = var.api_endpoints
    }
  }

  depends_on = [google_project_service.apis]
}
