variable "project_id" {
  type        = string
  description = "Host project of fleetscan: the function, topics, dataset and state bucket live here."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID: 6-30 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "organization_id" {
  type        = string
  description = "Numeric ID of the organization whose GKE clusters are scanned; the service account gets read roles on it."
  validation {
    condition     = can(regex("^[1-9][0-9]{0,19}$", var.organization_id))
    error_message = "organization_id must be the organization's number, e.g. 123456789012."
  }
}

variable "region" {
  type        = string
  description = "Region of the function, the Scheduler job and the state bucket."
  default     = "us-central1"
  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1 or europe-west4."
  }
}

variable "scope" {
  type        = string
  description = "What a scheduled scan covers: organizations/N, folders/N or projects/ID. Empty means the whole organization."
  default     = ""
  validation {
    condition     = var.scope == "" || can(regex("^(organizations/[1-9][0-9]{0,19}|folders/[1-9][0-9]{0,19}|projects/[a-z][a-z0-9-]{4,28}[a-z0-9])$", var.scope))
    error_message = "scope must be organizations/N, folders/N or projects/ID."
  }
}

variable "schedule" {
  type        = string
  description = "Cron schedule of the scan (five fields)."
  default     = "0 6 * * *"
  validation {
    condition     = length(split(" ", trimspace(var.schedule))) == 5
    error_message = "schedule must be a cron expression of five fields, e.g. \"0 6 * * *\"."
  }
}

variable "time_zone" {
  type        = string
  description = "Time zone of the schedule (tz database name)."
  default     = "Etc/UTC"
}

variable "dataset_id" {
  type        = string
  description = "BigQuery dataset of the findings tables and views."
  default     = "fleetscan"
  validation {
    condition     = can(regex("^[A-Za-z0-9_]{1,1024}$", var.dataset_id))
    error_message = "dataset_id may hold letters, digits and underscores only."
  }
}

variable "dataset_location" {
  type        = string
  description = "BigQuery location of the dataset, e.g. US or EU."
  default     = "US"
}

variable "discovery" {
  type        = string
  description = "How clusters are found: asset-inventory (Cloud Asset Inventory) or container-api (Resource Manager + Container API)."
  default     = "asset-inventory"
  validation {
    condition     = contains(["asset-inventory", "container-api"], var.discovery)
    error_message = "discovery must be asset-inventory or container-api."
  }
}

variable "lookback" {
  type        = string
  description = "Cloud Logging evidence window, e.g. 168h or 7d."
  default     = "168h"
}

variable "shard_size" {
  type        = number
  description = "A scope with more projects than this fans out into shards of this many; 0 never fans out."
  default     = 500
  validation {
    condition     = var.shard_size >= 0 && var.shard_size <= 10000
    error_message = "shard_size must be between 0 and 10000."
  }
}

variable "kubernetes" {
  type        = string
  description = "Where the in-cluster checks read the clusters' Kubernetes objects: \"\" (off: they are listed as skipped checks), asset-inventory (Cloud Asset Inventory, no cluster access; roles/cloudasset.viewer, already granted) or api (each cluster's Kubernetes API; grants roles/container.viewer on the organization)."
  default     = ""
  validation {
    condition     = contains(["", "asset-inventory", "api"], var.kubernetes)
    error_message = "kubernetes must be \"\", asset-inventory or api."
  }
}

variable "api_timeout" {
  type        = string
  description = "Deadline of one Google Cloud API call, retries included (a Go duration from 1s to 5m); an API down for longer fails the scan, which Pub/Sub redelivers."
  default     = "60s"
}

variable "max_event_age" {
  type        = string
  description = "Events older than this are dropped with a log line (a Go duration)."
  default     = "12h"
}

variable "api_endpoints" {
  type        = string
  description = "Optional endpoint overrides (Private Service Connect): comma-separated SERVICE=HOST:PORT."
  default     = ""
}

variable "function_memory" {
  type        = string
  description = "Memory of a function instance, e.g. 1Gi."
  default     = "1Gi"
  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi)$", var.function_memory))
    error_message = "function_memory must look like 512Mi or 2Gi."
  }
}

variable "function_max_instances" {
  type        = number
  description = "Most function instances at once; shards of a fanned-out scan run in parallel up to this."
  default     = 10
  validation {
    condition     = var.function_max_instances >= 1 && var.function_max_instances <= 1000
    error_message = "function_max_instances must be between 1 and 1000."
  }
}

variable "function_source_archive" {
  type        = string
  description = "Path of the source archive that make package builds."
  default     = "../out/fleetscan-function.zip"
}

variable "max_delivery_attempts" {
  type        = number
  description = "Deliveries of a request before it goes to the dead-letter topic."
  default     = 5
  validation {
    condition     = var.max_delivery_attempts >= 5 && var.max_delivery_attempts <= 100
    error_message = "max_delivery_attempts must be between 5 and 100 (Pub/Sub's limits)."
  }
}

variable "labels" {
  type        = map(string)
  description = "Labels added to every resource that takes them."
  default     = {}
}
