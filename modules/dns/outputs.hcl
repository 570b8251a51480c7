output "fqdns" {
  description = "Fully qualified names of the records, keyed like var.records."
  value       = { for key, record in google_dns_record_set.this : key => record.name }
}
