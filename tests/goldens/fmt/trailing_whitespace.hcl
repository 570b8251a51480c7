a = 1   
b = 2	

block {   
  c = 3  
}   
# comment with trailing spaces   
d = "trailing inside string   "
