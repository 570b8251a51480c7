service "ledger" {
  owner        = "payments"
  environments = ["development", "production"]
}

module "app" {
  source = "../../modules/microservice"

  name            = service.name
  owner           = service.owner
  environment     = env.name
  project_prefix  = platform.project_prefix
  org_id          = platform.org_id
  billing_account = platform.billing_account
  group_domain    = platform.group_domain
  cluster_project = platform.clusters[env.cluster].project

  deletion_policy       = env.protected ? "PREVENT" : "DELETE"
  team_roles            = env.team_roles
  team_namespace_access = env.team_namespace_access
  extra_apis            = ["sqladmin.googleapis.com", "secretmanager.googleapis.com"]
}

module "db" {
  source = "../../modules/cloudsql"

  project = module.app.project_id
  name    = service.name
  region  = platform.default_region
  member  = module.app.service_account_member

  # Sizes come from the environment: a small zonal instance in development,
  # a bigger one with a standby in a second zone in production.
  tier                   = env.sql_tier
  availability_type      = env.sql_availability_type
  disk_size              = env.sql_disk_size
  point_in_time_recovery = env.protected
  deletion_protection    = env.protected

  database_flags = {
    "log_min_duration_statement" = env.protected ? "500" : "100"
    "max_connections"            = "200"
  }

  labels = {
    team        = service.owner
    service     = service.name
    environment = env.name
  }
}
