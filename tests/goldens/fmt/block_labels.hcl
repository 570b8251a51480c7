resource aws_instance web {
  ami = "x"
}
resource "a" b {}
module    "spaced"    "labels"   {}
resource /* c1 */ "x" /* c2 */ "y" /* c3 */ {}
resource "esc\u00e9\"q" "tab\there" {}
resource "" "empty" {}
locals /* no labels */ {}
