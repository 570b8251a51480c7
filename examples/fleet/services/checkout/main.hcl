service "checkout" {
  owner        = "storefront"
  environments = ["development", "production"]
}

module "app" {
  source = "../../modules/microservice"

  name            = service.name
  owner           = service.owner
  environment     = env.name
  project_prefix  = platform.project_prefix
  org_id          = platform.org_id
  billing_account = platform.billing_account
  group_domain    = platform.group_domain
  cluster_project = platform.clusters[env.cluster].project

  deletion_policy       = env.protected ? "PREVENT" : "DELETE"
  team_roles            = env.team_roles
  team_namespace_access = env.team_namespace_access

  # Checkout scales out for sales peaks in production.
  quota = {
    "requests.cpu"    = env.protected ? "32" : "4"
    "requests.memory" = env.protected ? "64Gi" : "8Gi"
    "limits.cpu"      = env.protected ? "64" : "8"
    "limits.memory"   = env.protected ? "128Gi" : "16Gi"
    "pods"            = env.protected ? "200" : "50"
  }

  # Only the maximum differs from the module's defaults.
  container_defaults = {
    max = { cpu = "4", memory = "8Gi" }
  }
}

module "dns" {
  source = "../../modules/dns"

  project      = platform.dns_zones[env.dns_zone].project
  managed_zone = env.dns_zone
  domain       = platform.dns_zones[env.dns_zone].dns_name

  # checkout.<zone> points at the ingress; the old names stay as aliases.
  records = merge(
    {
      checkout = {
        type    = "A"
        ttl     = 60
        rrdatas = [env.ingress_ip]
      }
    },
    {
      for alias in ["cart", "basket"] : alias => {
        type    = "CNAME"
        rrdatas = ["checkout.${platform.dns_zones[env.dns_zone].dns_name}"]
      }
    },
  )
}
