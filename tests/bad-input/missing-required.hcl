# expect: google_project_service "api" is missing the required attribute `service`
service "svc" {
  owner        = "team"
  environments = ["development"]
}
resource "google_project_service" "api" {
  project = "acme-svc-dev"
}
