# expect: `count.index` used where there is no `count`
service "svc" {
  owner        = "team"
  environments = ["development"]
}
resource "random_id" "x" {
  byte_length = 4 + count.index
}
