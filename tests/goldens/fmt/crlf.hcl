resource "x" "y" {
  a = 1
    bbb = 2 # comment

  nested {
  c = "${var.d}"
  }
  doc = <<EOT
line
EOT
}
