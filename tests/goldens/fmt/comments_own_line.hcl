# File header comment
// another style

/*
 * A block comment
 *   with its own indentation
 */
resource "x" "y" {
    # indented comment
  a = 1
        // badly indented slash comment
  b = 2
  /* block comment
        keeps its inner lines */
  c = 3

  #no space after hash
  nested {
  # comment inside nested
    d = 4
  }
}
  # trailing comment at end, indented
