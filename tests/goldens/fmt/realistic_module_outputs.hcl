variable "name" {
  type = string
  description = "Service name"
  validation {
    condition = can(regex("^[a-z][a-z0-9-]{2,28}$", var.name))
    error_message = "The name must be 3-29 lower-case characters."
  }
}

variable "labels" {
  type = map(string)
  default = {}
}

variable "settings" {
  type = object({
    tier = optional(string, "db-f1-micro")
    disk_size = optional(number, 10)
  })
  default = {}
  sensitive = true
}

output "project_id" {
  value = google_project.main.project_id
}

output "member" {
  value = "serviceAccount:${google_service_account.sa.email}"
  sensitive = false
}

output "connection" {
  value = {
    host = google_sql_database_instance.main.private_ip_address
    port = 5432
  }
}
