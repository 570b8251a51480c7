# expect: service "payment" is in directory services/svc
service "payment" {
  owner        = "team"
  environments = ["development"]
}
