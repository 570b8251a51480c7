# expect: dependency cycle: local.a -> local.b -> local.a
service "svc" {
  owner        = "team"
  environments = ["development"]
}
locals {
  a = local.b
  b = local.a
}
