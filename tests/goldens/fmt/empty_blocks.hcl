terraform {}
provider "google" {
}
resource "a" "b" {   }
resource "c" "d" {

}
locals {
  nested {}
  other {
  }
}
