# Alert state: one object per scope and project, written with generation
# preconditions. Private: uniform access, no public access.
resource "google_storage_bucket" "state" {
  project                     = var.project_id
  name                        = "${var.project_id}-fleetscan-state"
  location                    = var.region
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  labels                      = local.labels

  versioning {
    enabled = true
  }

  lifecycle_rule {
    condition {
      num_newer_versions = 10
    }
    action {
      type = "Delete"
    }
  }

  depends_on = [google_project_service.apis]
}
