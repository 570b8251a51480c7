a = "${var.a}"
b = "${ var.b }"
c = "${var.c}-suffix"
d = "prefix-${var.d}"
e = "${var.e}${var.f}"
f = "${func("${var.g}")}"
g = "${
  var.multi
}"
h = "${var.cond ?
  "a" : "b"}"
i = "${(var.x)}"
j = ["${var.in_list}"]
k = { x = "${var.in_object}" }
block {
  nested = "${var.nested}"
}
l = "${~var.strip~}"
m = "%{if var.x}y%{endif}"
n = "${var.n}" # comment kept
o = /* before */ "${var.o}"
