# A sandbox for search-ranking experiments. It exists only in development:
# there is no production instance and no production state.
service "search-lab" {
  owner        = "discovery"
  environments = ["development"]
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

  deletion_policy       = "DELETE"
  team_roles            = concat(env.team_roles, ["roles/bigquery.user"])
  team_namespace_access = "edit"
  extra_apis            = ["bigquery.googleapis.com"]

  workload_roles = [
    "roles/logging.logWriter",
    "roles/monitoring.metricWriter",
    "roles/bigquery.jobUser",
    "roles/bigquery.dataViewer",
  ]

  # Experiments run big batch jobs; limits and defaults are generous.
  quota = {
    "requests.cpu"     = "16"
    "requests.memory"  = "64Gi"
    "limits.cpu"       = "32"
    "limits.memory"    = "128Gi"
    "pods"             = "100"
    "count/jobs.batch" = "50"
  }

  container_defaults = {
    default = { cpu = "1", memory = "2Gi" }
    max     = { cpu = "8", memory = "32Gi" }
  }

  labels = {
    lifetime = "experimental"
  }
}
