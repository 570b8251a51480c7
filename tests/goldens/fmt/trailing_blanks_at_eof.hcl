a = 1 # one
bbb = 22 /* two */   