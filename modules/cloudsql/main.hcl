locals {
  database_name = coalesce(var.database_name, var.name)
  user_name     = coalesce(var.user_name, var.name)
}

# Cloud SQL keeps a deleted instance's name reserved for a while, so a
# replacement instance gets a fresh suffix instead of reusing the name.
resource "random_id" "instance_suffix" {
  byte_length = 2

  keepers = {
    region    = var.region
    disk_type = var.disk_type
  }
}

resource "google_sql_database_instance" "main" {
  project             = var.project
  name                = "${var.name}-${random_id.instance_suffix.hex}"
  database_version    = var.database_version
  region              = var.region
  deletion_protection = var.deletion_protection

  settings {
    tier              = var.tier
    edition           = var.edition
    availability_type = var.availability_type
    disk_size         = var.disk_size
    disk_type         = var.disk_type
    user_labels       = var.labels

    backup_configuration {
      enabled                        = var.backup_enabled
      start_time                     = var.backup_start_time
      point_in_time_recovery_enabled = var.backup_enabled && var.point_in_time_recovery
    }

    ip_configuration {
      ipv4_enabled    = var.private_network == null
      private_network = var.private_network
      ssl_mode        = var.ssl_mode
    }

    dynamic "database_flags" {
      for_each = var.database_flags
      content {
        name  = database_flags.key
        value = database_flags.value
      }
    }
  }
}

resource "google_sql_database" "main" {
  project  = var.project
  instance = google_sql_database_instance.main.name
  name     = local.database_name
}

resource "random_password" "db" {
  length  = 32
  special = false
}

resource "google_sql_user" "app" {
  project  = var.project
  instance = google_sql_database_instance.main.name
  name     = local.user_name
  password = random_password.db.result
}

resource "google_secret_manager_secret" "db_password" {
  project   = var.project
  secret_id = "${var.name}-db-password"
  labels    = var.labels

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "db_password" {
  secret      = google_secret_manager_secret.db_password.id
  secret_data = random_password.db.result
}

resource "google_project_iam_member" "workload" {
  for_each = toset([
    "roles/cloudsql.client",
    "roles/secretmanager.secretAccessor",
  ])

  project = var.project
  role    = each.value
  member  = var.member
}
