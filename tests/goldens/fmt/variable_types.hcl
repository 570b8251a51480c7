variable "a" {
  type = "string"
}
variable "b" {
  type = "list"
  default = []
}
variable "c" {
  type = "map"
}
variable "d" {
  type = list
}
variable "e" {
  type = map
}
variable "f" {
  type = set
}
variable "g" {
  type = list(string)
}
variable "h" {
  type = object({
    name = string
    count = number
  })
}
variable "i" {
  type = "${string}"
}
variable "j" {
  type = "number"
}
module "m" {
  type = "string"
}
variable "k" {
  nested {
    type = "string"
  }
}
variable "l" {
  type = any # comment
}
