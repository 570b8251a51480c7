locals {
  # Short environment names keep project ids within 30 characters.
  env_short = lookup({
    development = "dev"
    staging     = "stg"
    production  = "prd"
  }, var.environment, substr(var.environment, 0, 4))

  project_id = "${var.project_prefix}-${var.name}-${local.env_short}"
  namespace  = coalesce(var.namespace, var.name)
  team_group = "${var.owner}@${var.group_domain}"

  labels = merge(var.labels, {
    team         = var.owner
    service      = var.name
    environment  = var.environment
    "managed-by" = "yagura"
  })

  k8s_labels = {
    "app.kubernetes.io/part-of"    = var.name
    "app.kubernetes.io/managed-by" = "yagura"
    "acme.example/team"            = var.owner
    "acme.example/environment"     = var.environment
  }

  team_verbs = var.team_namespace_access == "edit" ? [
    "get", "list", "watch", "create", "update", "patch", "delete",
  ] : ["get", "list", "watch"]
}

resource "google_project" "this" {
  project_id      = local.project_id
  name            = substr("${var.name} ${var.environment}", 0, 30)
  org_id          = var.org_id
  folder_id       = var.folder_id
  billing_account = var.billing_account
  labels          = local.labels
  deletion_policy = var.deletion_policy
}

resource "google_project_service" "this" {
  for_each = toset(concat(var.apis, var.extra_apis))

  project            = google_project.this.project_id
  service            = each.value
  disable_on_destroy = false
}

resource "google_service_account" "workload" {
  project      = google_project.this.project_id
  account_id   = "${var.name}-workload"
  display_name = "${var.name} workload"
  description  = "Identity of the ${var.name} pods in ${var.environment}, via Workload Identity."

  depends_on = [google_project_service.this]
}

resource "google_project_iam_member" "team" {
  for_each = toset(var.team_roles)

  project = google_project.this.project_id
  role    = each.value
  member  = "group:${local.team_group}"
}

resource "google_project_iam_member" "workload" {
  for_each = toset(var.workload_roles)

  project = google_project.this.project_id
  role    = each.value
  member  = google_service_account.workload.member
}

resource "kubernetes_namespace_v1" "this" {
  metadata {
    name   = local.namespace
    labels = local.k8s_labels
  }
}

resource "kubernetes_service_account_v1" "workload" {
  metadata {
    name      = var.ksa_name
    namespace = kubernetes_namespace_v1.this.metadata[0].name
    labels    = local.k8s_labels
    annotations = {
      "iam.gke.io/gcp-service-account" = google_service_account.workload.email
    }
  }
}

# Lets the namespace's Kubernetes service account act as the GCP service account.
resource "google_service_account_iam_member" "workload_identity" {
  service_account_id = google_service_account.workload.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:${var.cluster_project}.svc.id.goog[${kubernetes_namespace_v1.this.metadata[0].name}/${kubernetes_service_account_v1.workload.metadata[0].name}]"
}

resource "kubernetes_role_v1" "team" {
  metadata {
    name      = "${var.owner}-team"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
    labels    = local.k8s_labels
  }

  rule {
    api_groups = [""]
    resources = [
      "pods", "pods/log", "services", "endpoints", "configmaps",
      "persistentvolumeclaims", "serviceaccounts", "events",
    ]
    verbs = local.team_verbs
  }

  rule {
    api_groups = ["apps", "batch", "autoscaling", "policy", "networking.k8s.io"]
    resources = [
      "deployments", "statefulsets", "replicasets", "jobs", "cronjobs",
      "horizontalpodautoscalers", "poddisruptionbudgets", "ingresses", "networkpolicies",
    ]
    verbs = local.team_verbs
  }

  # Secrets, exec and port-forward only where the team may edit.
  dynamic "rule" {
    for_each = var.team_namespace_access == "edit" ? [1] : []
    content {
      api_groups = [""]
      resources  = ["secrets", "pods/exec", "pods/portforward"]
      verbs      = local.team_verbs
    }
  }
}

resource "kubernetes_role_binding_v1" "team" {
  metadata {
    name      = "${var.owner}-team"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
    labels    = local.k8s_labels
  }

  role_ref {
    api_group = "rbac.authorization.k8s.io"
    kind      = "Role"
    name      = kubernetes_role_v1.team.metadata[0].name
  }

  subject {
    kind      = "Group"
    name      = local.team_group
    api_group = "rbac.authorization.k8s.io"
  }
}

resource "kubernetes_resource_quota_v1" "this" {
  metadata {
    name      = "${var.name}-quota"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
    labels    = local.k8s_labels
  }

  spec {
    hard = var.quota
  }
}

resource "kubernetes_limit_range_v1" "this" {
  metadata {
    name      = "${var.name}-limits"
    namespace = kubernetes_namespace_v1.this.metadata[0].name
    labels    = local.k8s_labels
  }

  spec {
    limit {
      type            = "Container"
      default         = var.container_defaults.default
      default_request = var.container_defaults.default_request
      max             = var.container_defaults.max
    }
  }
}
