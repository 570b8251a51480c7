policy = <<EOT
{
    "Version": "2012-10-17",
  "Statement": []
}
EOT
script    =    <<SCRIPT
#!/bin/bash
echo "${var.name}"   # not a comment
  echo ${ var.spaced }
SCRIPT
after = 1
block {
  doc = <<EOF
  indented content
    stays
EOF
  other = 2
}
