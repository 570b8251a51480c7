a /* c */ = "${x}"
b = "${ {a=1} }"
c = "${ { a = 1 } }"
d = "x%{ for v in l ~}${v}%{ endfor ~}"
e = <<EOT
${ <<INNER
inner
INNER
}
EOT
f = [for k, v in { a = 1 } : "${k}=${v}"]
g = "${"nested"}"
h = "${ "a" }"
i = -var.x
j = !var.y
k = var.a ? -1 : 1
l = a.b[0].c[*].d
m = foo::bar::baz(1)
n = [1 ]
o = {a: 1, "b": 2}
p = 1 #c
qqq = 2 #d
/* mid */ r = 3
s = "${var.s}"/*x*/
t = {
  for k in var.x : k => "${k}"
}
u = "x"
v = "$"
w = "%"
x = "${x}" // line
y = (
  1 +
  2
)
z = "${
  var.z ?
  1 : 2
}"
