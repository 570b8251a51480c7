tags = {
  Name = "web"
  Environment   =   "prod"
  "quoted key" = true
  (var.dynamic_key) = 1
  nested = {
      a = 1
      bbb = 2
  }
  list_in_obj = [1, 2, 3]
  colon_style: "value"
  another : 7
}
one_line = { a = 1, b = 2 }
one_line_nospace = {a=1,b=2}
empty = {}
empty_spaced = {   }
mixed = { a = 1
  bb = 2 }
trailing_commas = {
  a = 1,
  bbb = 2,
}
