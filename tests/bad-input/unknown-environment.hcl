# expect: unknown environment "prodution"
# expect: did you mean "production"?
service "svc" {
  owner        = "team"
  environments = ["prodution"]
}
