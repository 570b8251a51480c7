resource "google_storage_bucket" "b" {
  for_each = toset(var.names)
  name = each.key
  location = each.value

  dynamic "lifecycle_rule" {
  for_each = var.rules
  content {
      action {
        type = lifecycle_rule.value.type
      }
      condition {
        age = lifecycle_rule.value.age
      }
    }
  }
  dynamic  setting  {
    for_each = { for s in var.settings : s.name => s }
    iterator = s
    content {
      name = s.key
      value = s.value
    }
  }
}
