a { b = 1 }
c {b=2}
d "label" {   e = "f"   }
g { h = { i = 1 } }
j {
  k { l = 1 }
}
