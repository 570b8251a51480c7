variable "name" {
  type        = string
  description = "Service name. Used for the project id, the service account, the namespace and labels. 3-18 characters so that the derived project id stays within GCP's 30-character limit."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,16}[a-z0-9]$", var.name))
    error_message = "The name must be 3-18 characters of lowercase letters, digits and hyphens, start with a letter and not end with a hyphen."
  }
}

variable "owner" {
  type        = string
  description = "Owning team. Its Google group (<owner>@<group_domain>) gets the project roles in team_roles and access to the namespace."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*[a-z0-9]$", var.owner))
    error_message = "The owner must be a team slug of lowercase letters, digits and hyphens."
  }
}

variable "environment" {
  type        = string
  description = "Environment name, e.g. development or production."

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*[a-z0-9]$", var.environment))
    error_message = "The environment must be lowercase letters, digits and hyphens."
  }
}

variable "project_prefix" {
  type        = string
  description = "Organisation-wide prefix of project ids (2-6 characters)."

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,5}$", var.project_prefix))
    error_message = "The project prefix must be 2-6 lowercase letters or digits and start with a letter."
  }
}

variable "org_id" {
  type        = string
  default     = null
  description = "Organization that the project is created in. Set exactly one of org_id and folder_id."
}

variable "folder_id" {
  type        = string
  default     = null
  description = "Folder that the project is created in. Set exactly one of org_id and folder_id."
}

variable "billing_account" {
  type        = string
  description = "Billing account linked to the project, e.g. 01ABCD-234567-89EFGH."
}

variable "deletion_policy" {
  type        = string
  default     = "PREVENT"
  description = "What deleting the google_project does: PREVENT (refuse), ABANDON (forget it) or DELETE (soft-delete the project)."

  validation {
    condition     = contains(["PREVENT", "ABANDON", "DELETE"], var.deletion_policy)
    error_message = "The deletion policy must be PREVENT, ABANDON or DELETE."
  }
}

variable "labels" {
  type        = map(string)
  default     = {}
  description = "Extra labels for the project. team, service, environment and managed-by are always set."
}

variable "apis" {
  type = list(string)
  default = [
    "iam.googleapis.com",
    "iamcredentials.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "cloudtrace.googleapis.com",
  ]
  description = "Base APIs enabled in every project."
}

variable "extra_apis" {
  type        = list(string)
  default     = []
  description = "APIs enabled in addition to apis, e.g. spanner.googleapis.com."
}

variable "group_domain" {
  type        = string
  description = "Domain of the teams' Google groups, e.g. acme.example."
}

variable "team_roles" {
  type        = list(string)
  default     = ["roles/viewer"]
  description = "Project roles granted to the owning team's group."
}

variable "workload_roles" {
  type = list(string)
  default = [
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/cloudtrace.agent",
  ]
  description = "Project roles granted to the workload's service account."
}

variable "cluster_project" {
  type        = string
  description = "Project of the GKE cluster that the namespace lands in; its Workload Identity pool is <cluster_project>.svc.id.goog."
}

variable "namespace" {
  type        = string
  default     = null
  description = "Kubernetes namespace name. Defaults to the service name."
}

variable "ksa_name" {
  type        = string
  default     = "workload"
  description = "Name of the Kubernetes service account that the workload runs as."
}

variable "team_namespace_access" {
  type        = string
  default     = "edit"
  description = "Access of the owning team in the namespace: edit (manage workloads, exec, secrets) or view (read only)."

  validation {
    condition     = contains(["edit", "view"], var.team_namespace_access)
    error_message = "The team namespace access must be edit or view."
  }
}

variable "quota" {
  type = map(string)
  default = {
    "requests.cpu"    = "4"
    "requests.memory" = "8Gi"
    "limits.cpu"      = "8"
    "limits.memory"   = "16Gi"
    "pods"            = "50"
    "services"        = "10"
  }
  description = "Hard limits of the namespace's ResourceQuota."
}

variable "container_defaults" {
  type = object({
    default         = optional(map(string), { cpu = "500m", memory = "512Mi" })
    default_request = optional(map(string), { cpu = "100m", memory = "128Mi" })
    max             = optional(map(string), { cpu = "2", memory = "4Gi" })
  })
  default     = {}
  description = "LimitRange for containers: default limits, default requests and maxima. Unset fields keep their defaults."
}
