terraform {
required_version = ">= 1.5"
  required_providers {
    google = {
      source = "hashicorp/google"
      version = "~> 5.0"
    }
  }
}

provider "google" {
  project = var.project
  region = var.region
}

variable "project" {
  type = "string"
  description = "The project"
}

variable "region" {
  type    = string
  default = "europe-west1"
}

variable "zones" {
  type = "list"
  default = ["europe-west1-b","europe-west1-c"]
}

locals {
  name_prefix = "${var.project}-app"
  common_labels = {
    managed_by = "terraform"
    project = "${var.project}"
  }
}

resource "google_compute_instance" "vm" {
  count = length(var.zones)
  name = "${local.name_prefix}-${count.index}"
  machine_type = "e2-medium"
  zone = var.zones[count.index]

  boot_disk {
    initialize_params {
      image = "debian-cloud/debian-12"
      size = 20
    }
  }

  network_interface {
    network = "default"
    access_config {}
  }

  metadata_startup_script = <<-EOT
    #!/bin/bash
    apt-get update
  EOT

  labels = local.common_labels

  lifecycle {
    ignore_changes = [ metadata ]
    create_before_destroy = true
  }
}

output "ips" {
  value = "${google_compute_instance.vm[*].network_interface[0].network_ip}"
  description = "Internal IPs"
}

module "network" {
  source = "./modules/network"
  name = local.name_prefix
  depends_on = [google_compute_instance.vm]
}
