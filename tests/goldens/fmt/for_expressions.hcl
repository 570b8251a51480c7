list = [for s in var.list : upper(s)]
tight = [for s in var.list: upper(s) if s != ""]
map = {for k, v in var.map : k => v}
map_tight = {for k,v in var.map: k=>v...}
grouped = { for k , v in var.map : v => k ... }
filtered = [ for x in [1,2,3] : x * 2 if x > 1 ]
multi = [
  for instance in var.instances : {
    id = instance.id
    name = instance.name
  }
  if instance.enabled
]
literal_tuple = [for x in [var.a, var.b] : x]
