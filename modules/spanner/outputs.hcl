output "instance_name" {
  description = "Name of the Spanner instance."
  value       = google_spanner_instance.main.name
}

output "database_name" {
  description = "Name of the database."
  value       = google_spanner_database.main.name
}

output "database_path" {
  description = "Full resource path of the database, as client libraries expect it."
  value       = "projects/${var.project}/instances/${google_spanner_instance.main.name}/databases/${google_spanner_database.main.name}"
}
