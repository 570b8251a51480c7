# expect: duplicate resource `random_id.x`
# expect: first declared here
service "svc" {
  owner        = "team"
  environments = ["development"]
}
resource "random_id" "x" {
  byte_length = 4
}
resource "random_id" "x" {
  byte_length = 8
}
