resource "x" "y" {
  a = 1
  bb = 2
  obj = {
    k = 1
    kkk = 2
    inner = {
      z = 1
      zzzzz = 2
    }
    after = 3
  }
  ccc = 3
  list = [
    { a = 1, bbb = 2 },
    { aaaa = 1 },
  ]
  d = 4
}
