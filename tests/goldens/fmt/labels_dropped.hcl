resource "a$b" "c" {}
resource "cost" "100%" {}
resource "$" "%" {}
resource "$${x}" "y" {}
