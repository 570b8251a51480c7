variable "project" {
  type        = string
  description = "Project that the instance, the secret and the IAM bindings are created in."
}

variable "name" {
  type        = string
  description = "Base name: the instance is <name>-<4 hex digits>, the secret <name>-db-password."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,40}[a-z0-9]$", var.name))
    error_message = "The name must be 3-42 lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "region" {
  type        = string
  description = "Region of the instance. Changing it replaces the instance."
}

variable "database_version" {
  type        = string
  default     = "POSTGRES_16"
  description = "Database engine and major version. Changing it upgrades the instance in place."
}

variable "edition" {
  type        = string
  default     = "ENTERPRISE"
  description = "Cloud SQL edition: ENTERPRISE or ENTERPRISE_PLUS (which needs db-perf-optimized-* tiers)."
}

variable "tier" {
  type        = string
  default     = "db-custom-1-3840"
  description = "Machine tier, e.g. db-f1-micro or db-custom-<vCPUs>-<MiB>."
}

variable "availability_type" {
  type        = string
  default     = "ZONAL"
  description = "ZONAL, or REGIONAL for a standby in a second zone."

  validation {
    condition     = contains(["ZONAL", "REGIONAL"], var.availability_type)
    error_message = "The availability type must be ZONAL or REGIONAL."
  }
}

variable "disk_size" {
  type        = number
  default     = 10
  description = "Disk size in GB. It can only grow."
}

variable "disk_type" {
  type        = string
  default     = "PD_SSD"
  description = "PD_SSD or PD_HDD. Changing it replaces the instance."
}

variable "backup_enabled" {
  type        = bool
  default     = true
  description = "Take daily backups."
}

variable "backup_start_time" {
  type        = string
  default     = "03:00"
  description = "Start of the daily backup window (HH:MM, UTC)."
}

variable "point_in_time_recovery" {
  type        = bool
  default     = true
  description = "Keep write-ahead logs for point-in-time recovery (needs backup_enabled)."
}

variable "private_network" {
  type        = string
  default     = null
  description = "VPC self link for a private IP. Without it the instance gets a public IP reachable only through the Cloud SQL connectors."
}

variable "ssl_mode" {
  type        = string
  default     = "ENCRYPTED_ONLY"
  description = "ALLOW_UNENCRYPTED_AND_ENCRYPTED, ENCRYPTED_ONLY or TRUSTED_CLIENT_CERTIFICATE_REQUIRED."
}

variable "database_flags" {
  type = map(string)
  default = {
    "log_min_duration_statement" = "1000"
    "log_lock_waits"             = "on"
  }
  description = "Database flags as name => value."
}

variable "database_name" {
  type        = string
  default     = null
  description = "Name of the database. Defaults to name."
}

variable "user_name" {
  type        = string
  default     = null
  description = "Name of the built-in user. Defaults to name."
}

variable "deletion_protection" {
  type        = bool
  default     = true
  description = "Refuse to delete the instance."
}

variable "labels" {
  type        = map(string)
  default     = {}
  description = "Labels of the instance and the secret."
}

variable "member" {
  type        = string
  description = "IAM member granted roles/cloudsql.client and roles/secretmanager.secretAccessor, usually the workload's serviceAccount:<email>."
}
