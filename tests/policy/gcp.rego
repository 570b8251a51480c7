# A policy written for Terraform plans (`terraform show -json`), as teams run
# them with OPA or conftest. The test runs it, unchanged, on yagura's plans.
package terraform.gcp

import rego.v1

changed contains rc if {
	some rc in input.resource_changes
	some action in rc.change.actions
	action in {"create", "update"}
}

where(rc) := sprintf("%s %s", [object.get(rc, "instance", "-"), rc.address])

deny contains msg if {
	some rc in changed
	rc.type == "google_project"
	not rc.change.after.labels.team
	msg := sprintf("%s: projects need a team label", [where(rc)])
}

deny contains msg if {
	some rc in changed
	rc.type == "google_project_iam_member"
	rc.change.after.role in {"roles/owner", "roles/editor"}
	startswith(rc.change.after.member, "user:")
	msg := sprintf("%s: no basic roles for individual users", [where(rc)])
}

deny contains msg if {
	some rc in changed
	rc.type == "google_sql_database_instance"
	some ip in rc.change.after.settings[0].ip_configuration
	ip.ipv4_enabled == true
	msg := sprintf("%s: Cloud SQL must not have a public IP", [where(rc)])
}

# Values known only after apply are marked in after_unknown, as Terraform does.
unknown_project_numbers := count([rc |
	some rc in changed
	rc.type == "google_project"
	rc.change.after_unknown.number == true
])
