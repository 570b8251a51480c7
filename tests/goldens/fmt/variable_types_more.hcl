variable "v1" {
  type = list # comment
}
variable "v2" {
  type = /* c */ "map"
}
variable "v3" {
  type    =    "list"
  default = "${var.d}"
}
variable "v4" {
  type = "String"
}
variable "v5" { type = "string" }
resource "x" "y" {
  variable "inner" {
    type = "string"
  }
}
locals {
  x = "${local.y}"
  z = ["${a}", "${b}"]
}
a = "${a}"
