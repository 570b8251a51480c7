service "notifications" {
  owner        = "messaging"
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
  extra_apis            = ["secretmanager.googleapis.com"]
}

# Raw resources, next to the module: the HMAC key that signs unsubscribe links
# in e-mails. It must be 32 random bytes (base64url), which random_id gives
# and random_password (printable characters) does not. Bump `rotated` to rotate.
resource "random_id" "unsubscribe_key" {
  byte_length = 32

  keepers = {
    rotated = "2025-01"
  }
}

resource "google_secret_manager_secret" "unsubscribe_key" {
  project   = module.app.project_id
  secret_id = "unsubscribe-signing-key"

  labels = {
    team    = service.owner
    service = service.name
  }

  replication {
    auto {}
  }
}

resource "google_secret_manager_secret_version" "unsubscribe_key" {
  secret      = google_secret_manager_secret.unsubscribe_key.id
  secret_data = random_id.unsubscribe_key.b64_url
}

resource "google_project_iam_member" "workload_secret_access" {
  project = module.app.project_id
  role    = "roles/secretmanager.secretAccessor"
  member  = module.app.service_account_member
}

# Developers may read the key in development only, to sign links in local tests.
resource "google_project_iam_member" "team_secret_access" {
  count = env.protected ? 0 : 1

  project = module.app.project_id
  role    = "roles/secretmanager.secretAccessor"
  member  = "group:${service.owner}@${platform.group_domain}"
}
