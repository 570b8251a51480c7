a = 1
bbbb = 2
cc = 3

# a comment breaks nothing here, blank line did
dddddd = 4
e = 5
# comment between
ffffffffff = 6
g = 7
block {
  x = 1
}
hh = 8
iii = {
  k = 1
}
j = 9
kkkkkkkkkkkk = [1,
  2]
l = 10
mm = "x" # trailing
n = [ for v in var.list : v ]
