#!/usr/bin/env bash
# Makes the Python environment the policy test runs: a venv under target/
# with regopy (OPA's Rego language, from PyPI). Idempotent; prints the python path.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/target/policy-venv"
if ! "$venv/bin/python" -c "import regopy" >/dev/null 2>&1; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "regopy==1.5.2" >&2
fi
echo "$venv/bin/python"
