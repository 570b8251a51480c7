# Platform configuration of the Acme fleet. Every service spec under services/
# sees these values as platform.<attr> and its environment's as env.<attr>.

platform {
  org_id          = "123456789012"
  billing_account = "01ABCD-234567-89EFGH"
  default_region  = "europe-west1"

  # Naming conventions, passed to the modules by the service specs.
  project_prefix = "acme"
  group_domain   = "acme.example"

  state {
    backend = "local"
    path    = "state"
  }

  # The label is the Cloud DNS managed zone name.
  dns_zone "acme-public" {
    dns_name = "acme.example."
    project  = "acme-dns"
  }

  dns_zone "acme-dev" {
    dns_name = "dev.acme.example."
    project  = "acme-dns"
  }

  cluster "dev" {
    project  = "acme-gke-dev"
    location = "europe-west1"
    endpoint = "https://10.0.0.2"
  }

  cluster "prod" {
    project  = "acme-gke-prod"
    location = "europe-west1"
    endpoint = "https://10.16.0.2"
  }
}

environment "development" {
  protected = false
  cluster   = "dev"

  # Where services publish their hostnames, and the shared ingress they point at.
  dns_zone   = "acme-dev"
  ingress_ip = "203.0.113.10"

  # Teams may change anything in their development projects and namespaces.
  team_roles            = ["roles/editor"]
  team_namespace_access = "edit"

  spanner_processing_units = 100
  sql_tier                 = "db-custom-1-3840"
  sql_availability_type    = "ZONAL"
  sql_disk_size            = 10
}

environment "production" {
  protected = true
  cluster   = "prod"

  dns_zone   = "acme-public"
  ingress_ip = "198.51.100.20"

  # Production changes go through yagura and the deploy pipeline only.
  team_roles            = ["roles/viewer", "roles/monitoring.editor"]
  team_namespace_access = "view"

  spanner_processing_units = 1000
  sql_tier                 = "db-custom-4-15360"
  sql_availability_type    = "REGIONAL"
  sql_disk_size            = 100
}
