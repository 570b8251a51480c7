# expect: unknown resource type `google_projct`
# expect: did you mean `google_project`?
# expect: supported types: random_id, random_password, google_project,
service "svc" {
  owner        = "team"
  environments = ["development"]
}
resource "google_projct" "p" {
  project_id = "acme-svc-dev"
}
