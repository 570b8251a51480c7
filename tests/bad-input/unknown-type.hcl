# expect: unknown resource type `google_projct`
# expect: did you mean `google_project`?
service "svc" {
  owner        = "team"
  environments = ["development"]
}
resource "google_projct" "p" {
  project_id = "acme-svc-dev"
}
