# expect: unknown attribute `procesing_units` in google_spanner_instance "main"
# expect: did you mean `processing_units`?
# expect: supported: `project`, `name`, `config`, `display_name`, `num_nodes`, `processing_units`
# expect: services/svc/main.hcl:13:3
service "svc" {
  owner        = "team"
  environments = ["development"]
}
resource "google_spanner_instance" "main" {
  project         = "acme-svc-dev"
  name            = "main"
  config          = "regional-europe-west1"
  procesing_units = 100
  display_name    = "main"
}
