# expect: `for_each` keys depend on values known only after apply
service "svc" {
  owner        = "team"
  environments = ["development"]
}
resource "random_id" "x" {
  byte_length = 4
}
resource "google_project_service" "api" {
  for_each = toset([random_id.x.hex])
  project  = "acme-svc-dev"
  service  = each.key
}
