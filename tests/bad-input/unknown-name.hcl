# expect: unknown name `locals`
# expect: did you mean `local`?
service "svc" {
  owner        = "team"
  environments = ["development"]
}
locals {
  n = 4
}
resource "random_id" "x" {
  byte_length = locals.n
}
