# expect: unknown attribute `bytes` in random_id "a"
# expect: random_id "b" is missing the required attribute `byte_length`
# expect: invalid value for `byte_length` of random_id "c"
# expect: 3 problems found
service "svc" {
  owner        = "team"
  environments = ["development"]
}
resource "random_id" "a" {
  byte_length = 2
  bytes       = 4
}
resource "random_id" "b" {
}
resource "random_id" "c" {
  byte_length = "eight"
}
