variable "project" {
  type        = string
  description = "Project that the instance is created in."
}

variable "name" {
  type        = string
  description = "Name of the Spanner instance (4-30 characters); also its display name."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,28}[a-z0-9]$", var.name))
    error_message = "The name must be 4-30 lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "region" {
  type        = string
  description = "Region of the instance; the default config is regional-<region>."
}

variable "config" {
  type        = string
  default     = null
  description = "Instance configuration, e.g. nam-eur-asia1. Defaults to regional-<region>."
}

variable "processing_units" {
  type        = number
  default     = 100
  description = "Compute capacity: multiples of 100 below 1000, multiples of 1000 from 1000 on (1000 = one node)."

  validation {
    condition     = var.processing_units >= 100 && (var.processing_units < 1000 ? var.processing_units % 100 == 0 : var.processing_units % 1000 == 0)
    error_message = "Processing units must be a multiple of 100 below 1000 and a multiple of 1000 from 1000 on."
  }
}

variable "database" {
  type        = string
  default     = null
  description = "Name of the database. Defaults to the instance name with hyphens turned into underscores."
}

variable "ddl" {
  type        = list(string)
  default     = []
  description = "DDL statements of the database. Append new statements; editing applied ones replaces the database."
}

variable "version_retention_period" {
  type        = string
  default     = "1h"
  description = "How long old versions of data are kept for point-in-time reads (1h to 7d)."
}

variable "deletion_protection" {
  type        = bool
  default     = true
  description = "Refuse to delete the database."
}

variable "force_destroy" {
  type        = bool
  default     = false
  description = "Delete the instance's backups when the instance is deleted."
}

variable "labels" {
  type        = map(string)
  default     = {}
  description = "Labels of the instance."
}

variable "member" {
  type        = string
  description = "IAM member granted roles/spanner.databaseUser, usually the workload's serviceAccount:<email>."
}
