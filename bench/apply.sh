#!/usr/bin/env bash
# Times `yagura apply` against fake-gcp on generated fleets of N services x 15
# resources (bench/gen_apply.py), and `terraform apply` on the same graph of
# terraform_data resources, in the same run.
#
#   bench/apply.sh                       yagura at 100 and 1000, terraform at 100
#   bench/apply.sh --sizes "100 300"     yagura sizes
#   bench/apply.sh --tf-sizes ""         skip terraform
#   bench/apply.sh --latency-ms 50 --operation-ms 1000 --sizes 100
#                                        a slow cloud: 50 ms per call, 1 s operations
#
# After each yagura apply, a no-op `yagura plan` with refresh is timed too (every
# resource read back), and fake-gcp's request counts give the calls made.
# Needs GNU time at /usr/bin/time, python3, and terraform on PATH for the comparison.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
sizes="100 1000"
tf_sizes="100"
latency=0
operation=0
terraform=${TERRAFORM:-terraform}
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes="$2"; shift 2 ;;
    --tf-sizes) tf_sizes="$2"; shift 2 ;;
    --latency-ms) latency="$2"; shift 2 ;;
    --operation-ms) operation="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "apply.sh: unknown argument $1 (see --help)" >&2; exit 1 ;;
  esac
done
/usr/bin/time -f '%e' true 2>/dev/null || { echo "apply.sh: GNU time is needed at /usr/bin/time" >&2; exit 1; }
export TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0

cargo build --release --quiet --manifest-path "$repo/Cargo.toml" --bin yagura --bin fake-gcp
bin="$repo/target/release"
work=$(mktemp -d "${TMPDIR:-/tmp}/yagura-apply-bench.XXXXXX")
fake_pid=""
cleanup() { [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

# Starts a fresh fake-gcp and exports its endpoints.
start_fake() {
  [ -n "$fake_pid" ] && kill "$fake_pid" 2>/dev/null && wait "$fake_pid" 2>/dev/null || true
  rm -f "$work/fake.out"; mkfifo "$work/fake.out"
  "$bin/fake-gcp" --listen 127.0.0.1:0 --latency-ms "$latency" --operation-delay-ms "$operation" \
    >"$work/fake.out" 2>"$work/fake.err" &
  fake_pid=$!
  read -r endpoints <"$work/fake.out"
  while read -r api url; do export "YAGURA_ENDPOINT_${api^^}=$url"; done < <(
    python3 -c 'import json,sys; [print(k, v) for k, v in json.loads(sys.argv[1]).items() if k != "oauth2"]' "$endpoints")
}

# Total requests fake-gcp served, over every API.
requests() {
  python3 - "$endpoints" <<'PY'
import json, sys, urllib.request
total = 0
for api, url in json.loads(sys.argv[1]).items():
    if api == "oauth2":
        continue
    with urllib.request.urlopen(url + "_fake/requests") as r:
        total += sum(json.load(r).values())
print(total)
PY
}

timed() { # label, then the command; prints wall, cpu, peak MB
  local out="$work/time.txt"
  /usr/bin/time -f '%e %U %S %M' -o "$out" "$@" >"$work/cmd.out" 2>"$work/cmd.err" || {
    echo "apply.sh: failed: $*" >&2; tail -5 "$work/cmd.out" "$work/cmd.err" >&2; exit 1; }
  awk '{printf "%s %.2f %d", $1, $2+$3, $4/1024}' "$out"
}

echo "# yagura apply benchmark"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'), machine: $(nproc) CPUs, $(free -g | awk '/^Mem:/ {print $2}') GiB"
echo "- fake-gcp: ${latency} ms per call, operations done after ${operation} ms"
echo
echo "| tool | services | resources | apply wall s | CPU s | peak MB | calls | no-op plan (refresh) wall s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
# Every run gets a directory of its own, removed only at the end: deleting many
# files just before a run makes the next file creations slower on some file
# systems (ext4 without a journal scans recently freed inodes).
run=0
for n in $sizes; do
  run=$((run + 1))
  dir="$work/n$n.$run"
  python3 "$repo/bench/gen_apply.py" "$n" "$dir"
  start_fake
  read -r wall cpu mb < <(timed "$bin/yagura" -C "$dir/yagura" apply --auto-approve; echo)
  grep -q "Apply complete" "$work/cmd.out" || { echo "apply.sh: the apply did not complete" >&2; tail -3 "$work/cmd.out" >&2; exit 1; }
  calls=$(requests)
  read -r pwall _ _ < <(timed "$bin/yagura" -C "$dir/yagura" plan --detailed-exitcode; echo)
  echo "| yagura | $n | $((n * 15)) | $wall | $cpu | $mb | $calls | $pwall |"
done
for n in $tf_sizes; do
  run=$((run + 1))
  dir="$work/tf$n.$run"
  python3 "$repo/bench/gen_apply.py" "$n" "$dir"
  (cd "$dir/terraform" && "$terraform" init -no-color >/dev/null)
  read -r wall cpu mb < <(cd "$dir/terraform" && timed "$terraform" apply -auto-approve -no-color; echo)
  echo "| terraform (terraform_data) | $n | $((n * 15)) | $wall | $cpu | $mb | — | — |"
done
