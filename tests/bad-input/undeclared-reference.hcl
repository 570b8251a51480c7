# expect: reference to undeclared resource `random_id.suffx`
# expect: did you mean `suffix`?
service "svc" {
  owner        = "team"
  environments = ["development"]
}
resource "random_id" "suffix" {
  byte_length = 4
}
resource "google_service_account" "sa" {
  project    = "acme-svc-dev"
  account_id = "sa-${random_id.suffx.hex}"
}
