service "catalog" {
owner = "storefront"
    environments = ["development","production"]
}

module "app" {
  source = "../../modules/microservice"

  name = service.name
  owner = service.owner
  environment = env.name
  project_prefix = platform.project_prefix
  cluster_project = platform.clusters[env.cluster].project

  deletion_policy = env.protected ? "PREVENT" : "DELETE"
  team_roles = env.team_roles
  extra_apis = [ "spanner.googleapis.com" ]
}

module "spanner" {
  source = "../../modules/spanner"

  project = module.app.project_id
  name = service.name

  # The catalog is read-heavy and served from two regions in production;
  # development uses the default regional-<region> config.
  config = env.protected ? "eur3" : null
  processing_units = env.spanner_processing_units*2
  deletion_protection = env.protected

  ddl = [
      "CREATE TABLE Categories (CategoryId STRING(36) NOT NULL) PRIMARY KEY (CategoryId)",
      "CREATE INDEX ProductsByCategory ON Products (CategoryId)",
  ]
}

resource "google_secret_manager_secret" "key" {
  project = module.app.project_id
  secret_id = "unsubscribe-signing-key"
  labels = {
    team = service.owner
    service = service.name
  }
  replication {
    auto {}
  }
}
