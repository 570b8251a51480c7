resource "k" "v" {
    user_data = <<-EOT
      #!/bin/sh
        echo hello
      echo ${var.x}
    EOT
  description = "d"
  list = [<<-A
    first
    A
  , "second"]
  call = trimspace(<<-EOT
     text
  EOT
  )
}
