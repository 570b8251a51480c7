# expect: "Payments_NS" is not a DNS-1123 label
service "svc" {
  owner        = "team"
  environments = ["development"]
}
resource "kubernetes_namespace_v1" "ns" {
  metadata {
    name = "Payments_NS"
  }
}
