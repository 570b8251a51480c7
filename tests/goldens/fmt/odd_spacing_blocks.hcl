resource    "x"   "y"{
  a=1
  b   =   2
}
data"d""e"{
x=1
}
block{
inner{}
}
