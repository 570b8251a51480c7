#!/usr/bin/env python3
"""Generates the apply benchmark's repos: N services of 15 Google resources each
for yagura (applied against fake-gcp), and the same graph of `terraform_data`
resources for Terraform.

    bench/gen_apply.py N OUT_DIR

writes OUT_DIR/yagura (a platform repo) and OUT_DIR/terraform (a root module
calling ./svc once per service). Each service's graph, in both:

    random_id.suffix, random_password.db
    google_project.this                       <- random_id.suffix (label)
    google_project_service.api x3             <- project
    google_service_account.app, .ci           <- project
    google_project_iam_member.grant x4        <- project, service accounts
    google_secret_manager_secret.db           <- project, services
    google_secret_manager_secret_version.db   <- secret, random_password
    google_service_account_iam_member.wi      <- service account app

15 resources, a critical path of 4 (project, service, secret, version).
"""

import os
import sys

PLATFORM = """\
platform {
  org_id          = "123456789012"
  billing_account = "01ABCD-234567-89EFGH"

  state {
    backend = "local"
    path    = "state"
  }
}

environment "bench" {}
"""

SERVICE = """\
service "{name}" {{
  owner        = "team-{name}"
  environments = ["bench"]
}}

resource "random_id" "suffix" {{
  byte_length = 2
}}

resource "random_password" "db" {{
  length = 24
}}

resource "google_project" "this" {{
  project_id      = "{name}-bench"
  name            = "{name}"
  org_id          = platform.org_id
  billing_account = platform.billing_account
  deletion_policy = "DELETE"
  labels = {{
    suffix = random_id.suffix.hex
  }}
}}

resource "google_project_service" "api" {{
  for_each = toset(["secretmanager.googleapis.com", "dns.googleapis.com", "sqladmin.googleapis.com"])
  project  = google_project.this.project_id
  service  = each.key
}}

resource "google_service_account" "app" {{
  project    = google_project.this.project_id
  account_id = "app-runtime"
}}

resource "google_service_account" "ci" {{
  project    = google_project.this.project_id
  account_id = "ci-deployer"
}}

resource "google_project_iam_member" "grant" {{
  for_each = {{
    viewer   = ["roles/viewer", google_service_account.app.member]
    secrets  = ["roles/secretmanager.secretAccessor", google_service_account.app.member]
    editor   = ["roles/editor", google_service_account.ci.member]
    team     = ["roles/viewer", "group:team-{name}@acme.example"]
  }}
  project = google_project.this.project_id
  role    = each.value[0]
  member  = each.value[1]
}}

resource "google_secret_manager_secret" "db" {{
  project   = google_project.this.project_id
  secret_id = "db-password"
  replication {{
    auto {{}}
  }}
  depends_on = [google_project_service.api]
}}

resource "google_secret_manager_secret_version" "db" {{
  secret      = google_secret_manager_secret.db.id
  secret_data = random_password.db.result
}}

resource "google_service_account_iam_member" "wi" {{
  service_account_id = google_service_account.app.name
  role               = "roles/iam.workloadIdentityUser"
  member             = "serviceAccount:{name}-bench.svc.id.goog[{name}/app]"
}}
"""

TF_ROOT = """\
variable "services" {{
  type    = list(string)
  default = [{names}]
}}

module "svc" {{
  source   = "./svc"
  for_each = toset(var.services)
  name     = each.key
}}
"""

TF_SVC = """\
variable "name" {
  type = string
}

resource "terraform_data" "suffix" {
  input = "${var.name}-suffix"
}

resource "terraform_data" "password" {
  input = "${var.name}-password"
}

resource "terraform_data" "project" {
  input = { id = "${var.name}-bench", suffix = terraform_data.suffix.output }
}

resource "terraform_data" "api" {
  for_each = toset(["secretmanager.googleapis.com", "dns.googleapis.com", "sqladmin.googleapis.com"])
  input    = { project = terraform_data.project.output.id, service = each.key }
}

resource "terraform_data" "sa_app" {
  input = { project = terraform_data.project.output.id, account = "app-runtime" }
}

resource "terraform_data" "sa_ci" {
  input = { project = terraform_data.project.output.id, account = "ci-deployer" }
}

resource "terraform_data" "grant" {
  for_each = {
    viewer  = ["roles/viewer", terraform_data.sa_app.output.account]
    secrets = ["roles/secretmanager.secretAccessor", terraform_data.sa_app.output.account]
    editor  = ["roles/editor", terraform_data.sa_ci.output.account]
    team    = ["roles/viewer", "group:team"]
  }
  input = { project = terraform_data.project.output.id, role = each.value[0], member = each.value[1] }
}

resource "terraform_data" "secret" {
  input      = { project = terraform_data.project.output.id }
  depends_on = [terraform_data.api]
}

resource "terraform_data" "version" {
  input = { secret = terraform_data.secret.output.project, data = terraform_data.password.output }
}

resource "terraform_data" "wi" {
  input = { account = terraform_data.sa_app.output.account }
}
"""


def name(i):
    return f"s{i:05d}"


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    n = int(sys.argv[1])
    out = sys.argv[2]
    yagura = os.path.join(out, "yagura")
    os.makedirs(os.path.join(yagura, "services"), exist_ok=True)
    with open(os.path.join(yagura, "yagura.hcl"), "w") as f:
        f.write(PLATFORM)
    for i in range(n):
        d = os.path.join(yagura, "services", name(i))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "main.hcl"), "w") as f:
            f.write(SERVICE.format(name=name(i)))
    tf = os.path.join(out, "terraform")
    os.makedirs(os.path.join(tf, "svc"), exist_ok=True)
    with open(os.path.join(tf, "main.tf"), "w") as f:
        f.write(TF_ROOT.format(names=", ".join(f'"{name(i)}"' for i in range(n))))
    with open(os.path.join(tf, "svc", "main.tf"), "w") as f:
        f.write(TF_SVC)


if __name__ == "__main__":
    main()
