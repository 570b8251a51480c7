ports = [
80,
  443,
      8080,
]
names = [ "a","b" ,"c" ]
nested = [[1,2],[3, 4], []]
objects = [
  {
    name = "a"
    value = 1
  },
  {
    name = "bb"
    value = 22
  },
]
empty = [ ]
hanging = ["a",
"b",
  "c"]
