resource "x" "y" {
	name	=	"tabbed"
	longer_name = 1
	nested {
		value = "a\tb"
	}
	doc = <<EOT
	keep	tabs
	EOT
}
	z = 1	# comment	with tab
