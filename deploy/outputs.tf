output "request_topic" {
  description = "Publish {\"scope\": …} here to start a scan now."
  value       = google_pubsub_topic.requests.id
}

output "alert_topic" {
  description = "Transition alerts (NEW, CHANGED, RESOLVED); subscribe with a filter."
  value       = google_pubsub_topic.alerts.id
}

output "dead_letter_topic" {
  description = "Requests the function could not handle after every retry."
  value       = google_pubsub_topic.dead_letter.id
}

output "dataset" {
  description = "BigQuery dataset of the tables and views."
  value       = "${var.project_id}.${google_bigquery_dataset.fleetscan.dataset_id}"
}

output "function" {
  description = "The Cloud Function and its URL (internal ingress, invoked only by Pub/Sub)."
  value = {
    name = google_cloudfunctions2_function.scanner.name
    uri  = google_cloudfunctions2_function.scanner.service_config[0].uri
  }
}

output "scanner_service_account" {
  description = "The function's identity: read-only on the organization."
  value       = google_service_account.scanner.email
}

output "state_bucket" {
  description = "Cloud Storage bucket of the alert state."
  value       = google_storage_bucket.state.name
}

output "sample_alert_subscription" {
  description = "A subscription to new HIGH or CRITICAL findings."
  value       = "gcloud pubsub subscriptions create fleetscan-high --project ${var.project_id} --topic ${google_pubsub_topic.alerts.name} --message-filter='attributes.transition = \"NEW\" AND (attributes.severity = \"HIGH\" OR attributes.severity = \"CRITICAL\")'"
}
