a = var.x ? 1 : 2
b = var.x?"yes":"no"
c = var.x ? (
  var.y ? 1 : 2
) : 3
d = (var.a == var.b) && !var.c || var.d
e = var.count > 0 ? var.count : -1
f = var.enabled ? {
  a = 1
} : {
  a = 2
}
