a = merge(var.a, var.b)
b = merge( var.a , var.b )
c = join(",",
  var.list,
)
d = lookup(
    var.map,
      "key",
  "default"
)
e = concat(local.a, [
  "x",
  "y",
])
f = format("%s-%d", var.name, 3)
g = max(var.list...)
h = provider::aws::arn_parse(var.arn)
i = upper ("space before paren")
j = jsonencode({
  a = 1
  bbb = [1, 2]
})
k = try(var.a.b, null)
