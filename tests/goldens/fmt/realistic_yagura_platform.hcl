platform {
  project_prefix = "acme"
  org_id = "123456789"
  billing_account = "AAAAAA-BBBBBB-CCCCCC"
  default_region = "europe-west1"

  clusters = {
    dev = {
      project = "acme-gke-dev"
      location = "europe-west1"
    }
    prod = { project = "acme-gke-prod", location = "europe-west1" }
  }
}

environment "development" {
  cluster = "dev"
  protected = false
  spanner_processing_units = 100
  team_roles = ["roles/editor"]
}

environment "production" {
  cluster = "prod"
  protected = true
  spanner_processing_units = 1000
  team_roles = [
    "roles/viewer",
  ]
}

state {
  backend = "gcs"
  bucket = "acme-yagura-state"
}
