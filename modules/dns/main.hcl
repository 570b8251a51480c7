resource "google_dns_record_set" "this" {
  for_each = var.records

  project      = var.project
  managed_zone = var.managed_zone
  name         = each.key == "@" ? var.domain : "${each.key}.${var.domain}"
  type         = each.value.type
  ttl          = each.value.ttl
  rrdatas      = each.value.rrdatas
}
