greeting = "こんにちは"
café = "crème brûlée"
emoji = "🚀"
tags = {
  "日本" = "japan"
  "é" = 1
  "é" = 2
  ascii = 3
}
label "ünïcödé" {
  straße = "x" # ümlaut comment
  s = "y"      # second
}
