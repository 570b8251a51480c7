#!/usr/bin/env bash
# Applies examples/fleet against fake-gcp, one fake-kube per cluster (dev and
# prod), and the Cloud Spanner emulator when google-cloud-cli ships it, in a
# scratch copy so the example stays clean; then plans again, which should find
# nothing to do (exit 0).
#
#   scripts/fleet-apply.sh             apply, then plan --detailed-exitcode
#   scripts/fleet-apply.sh --keep      keep the scratch copy and print its path
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
keep=0
[ "${1:-}" = "--keep" ] && keep=1

cargo build --release --quiet --manifest-path "$repo/Cargo.toml" --bin yagura --bin fake-gcp --bin fake-kube
bin="$repo/target/release"
work=$(mktemp -d "${TMPDIR:-/tmp}/yagura-fleet.XXXXXX")
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  if [ "$keep" = 0 ]; then rm -rf "$work"; else echo "kept $work" >&2; fi
}
trap cleanup EXIT

cp -rL "$repo/examples/fleet" "$work/fleet"
rm -rf "$work/fleet/state"

# fake-gcp prints its endpoints on its first line; it exits when this script does.
mkfifo "$work/fake.out"
setsid "$bin/fake-gcp" --listen 127.0.0.1:0 --seed "$repo/examples/fleet/fake-seed.json" \
  >"$work/fake.out" 2>"$work/fake.err" &
pids+=($!)
read -r endpoints <"$work/fake.out"
while read -r api url; do
  export "YAGURA_ENDPOINT_${api^^}=$url"
done < <(python3 -c 'import json,sys; [print(k, v) for k, v in json.loads(sys.argv[1]).items() if k != "oauth2"]' "$endpoints")

# One fake Kubernetes API server per cluster of yagura.hcl; each prints its URL first.
for cluster in dev prod; do
  mkfifo "$work/kube-$cluster.out"
  setsid "$bin/fake-kube" --listen 127.0.0.1:0 >"$work/kube-$cluster.out" 2>"$work/kube-$cluster.err" &
  pids+=($!)
  read -r line <"$work/kube-$cluster.out"
  url=$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["url"])' "$line")
  export "YAGURA_CLUSTER_ENDPOINT_${cluster^^}=$url"
  echo "Kubernetes: cluster $cluster at $url" >&2
done

emulator=/usr/lib/google-cloud-sdk/bin/cloud_spanner_emulator
if [ -x "$emulator/gateway_main" ]; then
  port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
  grpc=$(port); rest=$(port)
  setsid "$emulator/gateway_main" --hostname 127.0.0.1 --grpc_port "$grpc" --http_port "$rest" \
    --grpc_binary "$emulator/emulator_main" >"$work/spanner.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$rest/v1/projects/p/instanceConfigs" >/dev/null && break
    sleep 0.1
  done
  export SPANNER_EMULATOR_HOST="127.0.0.1:$rest"
  echo "Spanner: the emulator at $SPANNER_EMULATOR_HOST" >&2
else
  echo "Spanner: fake-gcp (no emulator at $emulator)" >&2
fi

status=0
"$bin/yagura" -C "$work/fleet" apply --auto-approve || status=$?
echo
echo "== plan after apply =="
plan=0
"$bin/yagura" -C "$work/fleet" plan --detailed-exitcode >"$work/plan.out" 2>&1 || plan=$?
tail -n 1 "$work/plan.out"
[ "$status" = 0 ] || exit "$status"
exit "$plan"
