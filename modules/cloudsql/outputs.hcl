output "instance_name" {
  description = "Name of the Cloud SQL instance, including its random suffix."
  value       = google_sql_database_instance.main.name
}

output "connection_name" {
  description = "Connection name (project:region:instance) for the Cloud SQL connectors."
  value       = google_sql_database_instance.main.connection_name
}

output "database_name" {
  description = "Name of the database."
  value       = google_sql_database.main.name
}

output "user_name" {
  description = "Name of the built-in database user."
  value       = google_sql_user.app.name
}

output "password_secret_id" {
  description = "Secret Manager secret id that holds the user's password (the password itself is never output)."
  value       = google_secret_manager_secret.db_password.secret_id
}

output "password_secret" {
  description = "Full resource name of the password secret (projects/<project>/secrets/<secret_id>)."
  value       = google_secret_manager_secret.db_password.id
}
