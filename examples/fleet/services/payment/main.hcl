service "payment" {
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
  extra_apis            = ["spanner.googleapis.com"]
}

module "spanner" {
  source = "../../modules/spanner"

  project          = module.app.project_id
  name             = service.name
  region           = platform.default_region
  processing_units = env.spanner_processing_units
  member           = module.app.service_account_member

  # Production keeps a week of versions for point-in-time reads and cannot be deleted.
  version_retention_period = env.protected ? "7d" : "1h"
  deletion_protection      = env.protected

  labels = {
    team        = service.owner
    service     = service.name
    environment = env.name
  }

  # Append only: editing an applied statement replaces the database.
  ddl = [
    "CREATE TABLE Payments (PaymentId STRING(36) NOT NULL, MerchantId STRING(36) NOT NULL, AmountMinor INT64 NOT NULL, Currency STRING(3) NOT NULL, Status STRING(16) NOT NULL, CreatedAt TIMESTAMP NOT NULL OPTIONS (allow_commit_timestamp = true)) PRIMARY KEY (PaymentId)",
    "CREATE INDEX PaymentsByMerchant ON Payments (MerchantId, CreatedAt DESC)",
    "CREATE TABLE Refunds (PaymentId STRING(36) NOT NULL, RefundId STRING(36) NOT NULL, AmountMinor INT64 NOT NULL, CreatedAt TIMESTAMP NOT NULL OPTIONS (allow_commit_timestamp = true)) PRIMARY KEY (PaymentId, RefundId), INTERLEAVE IN PARENT Payments ON DELETE CASCADE",
  ]
}

module "dns" {
  source = "../../modules/dns"

  project      = platform.dns_zones[env.dns_zone].project
  managed_zone = env.dns_zone
  domain       = platform.dns_zones[env.dns_zone].dns_name

  records = {
    payment = {
      type    = "A"
      rrdatas = [env.ingress_ip]
    }
    pay = {
      type    = "CNAME"
      ttl     = 3600
      rrdatas = ["payment.${platform.dns_zones[env.dns_zone].dns_name}"]
    }
  }
}
