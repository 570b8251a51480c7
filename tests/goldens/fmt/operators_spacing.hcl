a = 1+2
b = 1 -  2
c = -1
d = 3*-4
e = (1+2)*3/4%5
f = var.a==var.b
g = var.a!=var.b
h = var.a>=1&&var.b<=2
i = !var.c||var.d
j = [1,-2, - 3]
k = var.x - -1
l = var.list[0]-1
m = ( var.a )
n = var.a>var.b
o = var.a<var.b
p = { a = -1 }
q = f(-1)
r = var.b ? -1 : -2
