#!/usr/bin/env bash
# Regenerates tests/goldens/fmt/NAME.hcl.golden from NAME.hcl with the
# reference formatter, `terraform fmt -` (Terraform 1.11).
#
# Usage: scripts/fmt-goldens.sh [NAME.hcl ...]   (default: every input)
set -euo pipefail

dir="$(cd "$(dirname "$0")/.." && pwd)/tests/goldens/fmt"
terraform="${TERRAFORM:-terraform}"
# No CLI configuration, so nothing from the machine's setup leaks in.
export TF_CLI_CONFIG_FILE=/dev/null

"$terraform" version | head -n 1 >&2

cd "$dir"
if [ "$#" -eq 0 ]; then
  set -- *.hcl
fi
for input in "$@"; do
  input="$(basename "$input")"
  if ! "$terraform" fmt -no-color - <"$input" >"$input.golden.tmp"; then
    rm -f "$input.golden.tmp"
    echo "terraform fmt rejected $input" >&2
    exit 1
  fi
  mv "$input.golden.tmp" "$input.golden"
  echo "wrote $input.golden" >&2
done
