variable "project" {
  type        = string
  description = "Project that holds the managed zone."
}

variable "managed_zone" {
  type        = string
  description = "Name of the Cloud DNS managed zone, e.g. acme-public."
}

variable "domain" {
  type        = string
  description = "DNS name of the zone, ending with a dot, e.g. acme.example."

  validation {
    condition     = endswith(var.domain, ".")
    error_message = "The domain must be fully qualified and end with a dot."
  }
}

variable "records" {
  type = map(object({
    type    = string
    ttl     = optional(number, 300)
    rrdatas = list(string)
  }))
  default     = {}
  description = "Record sets keyed by name relative to the domain (\"@\" for the apex), e.g. { payment = { type = \"A\", rrdatas = [\"203.0.113.10\"] } }."

  validation {
    condition     = alltrue([for r in values(var.records) : contains(["A", "AAAA", "CNAME", "TXT", "MX", "CAA", "SRV"], r.type)])
    error_message = "Record types must be A, AAAA, CNAME, TXT, MX, CAA or SRV."
  }
}
