# The function runs as its own service account: read-only on the scanned
# organization, write access only to its own dataset, topics and bucket.
resource "google_service_account" "scanner" {
  project      = var.project_id
  account_id   = "fleetscan"
  display_name = "fleetscan scanner (Cloud Function runtime)"
}

# Pub/Sub pushes scan requests to the function as this identity; it is the
# only principal allowed to invoke the function.
resource "google_service_account" "invoker" {
  project      = var.project_id
  account_id   = "fleetscan-invoker"
  display_name = "fleetscan trigger (Pub/Sub push to the function)"
}

resource "google_organization_iam_member" "scanner_read" {
  for_each = toset(concat([
    "roles/cloudasset.viewer",       # asset-inventory discovery and in-cluster objects: ListAssets
    "roles/container.clusterViewer", # container-api discovery: ListClusters
    "roles/browser",                 # container-api discovery and fan-out: list folders and projects
    "roles/logging.viewer",          # log evidence: ListLogEntries
    ],
    # kubernetes = "api": list the in-cluster checks' objects through each
    # cluster's Kubernetes API (read-only, no Secrets).
    var.kubernetes == "api" ? ["roles/container.viewer"] : [],
  ))
  org_id = var.organization_id
  role   = each.value
  member = "serviceAccount:${google_service_account.scanner.email}"
}

resource "google_bigquery_dataset_iam_member" "scanner_write" {
  project    = var.project_id
  dataset_id = google_bigquery_dataset.fleetscan.dataset_id
  role       = "roles/bigquery.dataEditor" # create tables and views, add columns, insert rows
  member     = "serviceAccount:${google_service_account.scanner.email}"
}

resource "google_pubsub_topic_iam_member" "scanner_publish" {
  for_each = {
    requests = google_pubsub_topic.requests.id # shard messages of a fanned-out scan
    alerts   = google_pubsub_topic.alerts.id   # transition alerts
  }
  project = var.project_id
  topic   = each.value
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${google_service_account.scanner.email}"
}

resource "google_storage_bucket_iam_member" "scanner_state" {
  bucket = google_storage_bucket.state.name
  role   = "roles/storage.objectUser" # read and write the alert state objects
  member = "serviceAccount:${google_service_account.scanner.email}"
}

resource "google_cloud_run_service_iam_member" "invoker" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.scanner.service_config[0].service
  role     = "roles/run.invoker"
  member   = "serviceAccount:${google_service_account.invoker.email}"
}

# Pub/Sub's service agent signs the push requests' OIDC tokens and moves
# undeliverable requests to the dead-letter topic.
locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.host.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_service_account_iam_member" "pubsub_token" {
  service_account_id = google_service_account.invoker.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = local.pubsub_agent
}

resource "google_pubsub_topic_iam_member" "pubsub_dead_letter" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.id
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_dead_letter" {
  project      = var.project_id
  subscription = google_pubsub_subscription.trigger.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
