# expect: `to` must be a resource or module address
service "svc" {
  owner        = "team"
  environments = ["development"]
}
moved {
  from = random_id.a
  to   = "random_id.b"
}
