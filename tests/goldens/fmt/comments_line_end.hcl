a = 1 # hash
bbb = 2 // slashes
cc = 3 /* block */
dddd = "x"       # far away
block "x" { # after brace
  y = 1    # y
  zzzz = 2 // z
} # after close
list = [
  1, # one
  22,  # twenty-two
  333, /* three */
]
obj = {
  k = "v" # c1
  kkkk = "vvvv"      # c2
}
/* leading block */ lead = 1
