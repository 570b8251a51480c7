resource "google_project" "main" {
project_id = "p-1"
      name = "main"
labels {
          team = "core"
   nested {
deep = true
              }
        }
    }

    locals {
  a = 1
        }
