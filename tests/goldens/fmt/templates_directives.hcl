greeting = "Hello, ${var.name}!"
spaced = "Hello, ${ var.name }!"
directive = "%{ if var.enabled }on%{ else }off%{ endif }"
loop = <<EOT
%{ for ip in var.ips ~}
server ${ ip }
%{ endfor ~}
EOT
strip = "${~ var.a ~}"
escaped = "$${not.interpolated} and %%{ not a directive }"
dollar = "cost: $5 and 100%"
nested = "${ "inner ${ var.x }" }"
object_interp = "${ {a = 1}.a }"
twice = "${var.a}${var.b}"
