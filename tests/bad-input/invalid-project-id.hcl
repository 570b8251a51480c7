# expect: invalid `project_id` of google_project "p": "acme-a-service-name-far-too-long-dev" is not a valid project id
service "svc" {
  owner        = "team"
  environments = ["development"]
}
resource "google_project" "p" {
  project_id = "acme-a-service-name-far-too-long-dev"
  name       = "svc"
  org_id     = "123"
}
