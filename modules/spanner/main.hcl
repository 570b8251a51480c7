locals {
  config   = coalesce(var.config, "regional-${var.region}")
  database = coalesce(var.database, replace(var.name, "-", "_"))
}

resource "google_spanner_instance" "main" {
  project          = var.project
  name             = var.name
  config           = local.config
  display_name     = var.name
  processing_units = var.processing_units
  force_destroy    = var.force_destroy
  labels           = var.labels
}

resource "google_spanner_database" "main" {
  project                  = var.project
  instance                 = google_spanner_instance.main.name
  name                     = local.database
  ddl                      = var.ddl
  version_retention_period = var.version_retention_period
  deletion_protection      = var.deletion_protection
}

resource "google_project_iam_member" "database_user" {
  project = var.project
  role    = "roles/spanner.databaseUser"
  member  = var.member
}
