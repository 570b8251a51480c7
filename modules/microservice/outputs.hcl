output "project_id" {
  description = "Id of the service's project. Depends on the enabled APIs, so resources created with it wait for them."
  value       = google_project.this.project_id

  depends_on = [google_project_service.this]
}

output "project_number" {
  description = "Number of the service's project (known after apply)."
  value       = google_project.this.number
}

output "service_account_email" {
  description = "Email of the workload's GCP service account."
  value       = google_service_account.workload.email
}

output "service_account_member" {
  description = "IAM member string of the workload's service account (serviceAccount:<email>)."
  value       = google_service_account.workload.member
}

output "namespace" {
  description = "Kubernetes namespace of the service."
  value       = kubernetes_namespace_v1.this.metadata[0].name
}

output "ksa_name" {
  description = "Name of the Kubernetes service account bound to the GCP service account."
  value       = kubernetes_service_account_v1.workload.metadata[0].name
}
