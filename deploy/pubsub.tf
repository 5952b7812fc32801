resource "google_pubsub_topic" "requests" {
  project    = var.project_id
  name       = "fleetscan-requests"
  labels     = local.labels
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "alerts" {
  project    = var.project_id
  name       = "fleetscan-alerts"
  labels     = local.labels
  depends_on = [google_project_service.apis]
}

resource "google_pubsub_topic" "dead_letter" {
  project    = var.project_id
  name       = "fleetscan-requests-dead-letter"
  labels     = local.labels
  depends_on = [google_project_service.apis]
}

# The function's trigger: requests and shards are pushed to the function
# with an OIDC token of the invoker account. The push path names the topic,
# so the Functions Framework delivers them as messagePublished CloudEvents.
# A failed delivery is retried with backoff; after max_delivery_attempts it
# goes to the dead-letter topic instead of being lost.
resource "google_pubsub_subscription" "trigger" {
  project                    = var.project_id
  name                       = "fleetscan-trigger"
  topic                      = google_pubsub_topic.requests.id
  ack_deadline_seconds       = 600
  message_retention_duration = "604800s"
  labels                     = local.labels

  push_config {
    push_endpoint = "${google_cloudfunctions2_function.scanner.service_config[0].uri}/projects/${var.project_id}/topics/${google_pubsub_topic.requests.name}"
    oidc_token {
      service_account_email = google_service_account.invoker.email
      audience              = google_cloudfunctions2_function.scanner.service_config[0].uri
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }
}

# Keeps dead-lettered requests for inspection and replay.
resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project_id
  name                       = "fleetscan-requests-dead-letter"
  topic                      = google_pubsub_topic.dead_letter.id
  message_retention_duration = "604800s"
  labels                     = local.labels
}
