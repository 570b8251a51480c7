service "catalog" {
  owner        = "storefront"
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
  extra_apis            = ["spanner.googleapis.com"]
}

module "spanner" {
  source = "../../modules/spanner"

  project = module.app.project_id
  name    = service.name
  region  = platform.default_region
  member  = module.app.service_account_member

  # The catalog is read-heavy and served from two regions in production;
  # development uses the default regional-<region> config.
  config                   = env.protected ? "eur3" : null
  processing_units         = env.spanner_processing_units * 2
  version_retention_period = env.protected ? "3d" : "1h"
  deletion_protection      = env.protected

  ddl = [
    "CREATE TABLE Categories (CategoryId STRING(36) NOT NULL, ParentId STRING(36), Name STRING(MAX) NOT NULL) PRIMARY KEY (CategoryId)",
    "CREATE TABLE Products (ProductId STRING(36) NOT NULL, CategoryId STRING(36) NOT NULL, Sku STRING(64) NOT NULL, Title STRING(MAX) NOT NULL, PriceMinor INT64 NOT NULL, UpdatedAt TIMESTAMP NOT NULL OPTIONS (allow_commit_timestamp = true)) PRIMARY KEY (ProductId)",
    "CREATE UNIQUE INDEX ProductsBySku ON Products (Sku)",
    "CREATE INDEX ProductsByCategory ON Products (CategoryId)",
  ]
}
