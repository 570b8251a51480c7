# expect: syntax error
# expect: services/svc/main.hcl:8:17
service "svc" {
  owner        = "team"
  environments = ["development"]
}
resource "random_id" "x" {
  byte_length = = 4
}
