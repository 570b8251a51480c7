# expect: invalid value for `byte_length` of random_id "x": a number is required, but have string "four"
service "svc" {
  owner        = "team"
  environments = ["development"]
}
resource "random_id" "x" {
  byte_length = "four"
}
