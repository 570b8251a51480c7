#!/usr/bin/env bash
# Times `yagura plan --no-refresh` and `terraform plan -refresh=false` on
# generated fleets of the same graph (see bench/README.md).
#
#   bench/run.sh                       yagura at 100 300 1000 5000, terraform at 100 300
#   bench/run.sh --quick               both at 100 only
#   bench/run.sh --sizes "100 1000"    yagura sizes (terraform sizes are added to them)
#   bench/run.sh --tf-sizes "100"      terraform sizes ("" skips terraform)
#   bench/run.sh --repeat 5            runs per yagura measurement (the median is kept)
#   bench/run.sh --keep                keep the generated fleets (printed at the end)
#
# Needs GNU time at /usr/bin/time (apt-get install time), python3 and, for the
# comparison, terraform on PATH (TERRAFORM=/path/to/terraform overrides).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
yagura_sizes="100 1000 5000"
tf_sizes="100 300"
repeat=3
keep=0
terraform=${TERRAFORM:-terraform}

while [ $# -gt 0 ]; do
  case "$1" in
    --quick) yagura_sizes="100"; tf_sizes="100"; shift ;;
    --sizes) yagura_sizes="$2"; shift 2 ;;
    --tf-sizes) tf_sizes="$2"; shift 2 ;;
    --repeat) repeat="$2"; shift 2 ;;
    --keep) keep=1; shift ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 1 ;;
  esac
done

if ! /usr/bin/time -f '%e' true 2>/dev/null; then
  echo "run.sh: GNU time is needed at /usr/bin/time; install it with: apt-get install time" >&2
  exit 1
fi
if [ -n "$tf_sizes" ] && ! command -v "$terraform" >/dev/null; then
  echo "run.sh: terraform not found; pass --tf-sizes \"\" to time yagura alone" >&2
  exit 1
fi

# Terraform offline and quiet: no CLI config, no version check, no prompts.
export TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0

# yagura also runs at every terraform size, for the ratio.
all_yagura_sizes=$(printf '%s\n' $yagura_sizes $tf_sizes | sort -n -u | tr '\n' ' ')

work=$(mktemp -d "${TMPDIR:-/tmp}/yagura-bench.XXXXXX")
if [ "$keep" = 0 ]; then
  trap 'rm -rf "$work"' EXIT
fi

log() { echo "run.sh: $*" >&2; }

echo "# yagura plan benchmark"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- machine: $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(free -g | awk '/^Mem:/ {print $2}') GiB"
echo "- load before: $(uptime | sed 's/.*load average: //')"
echo "- yagura: $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?') (working tree), cargo build --release"
[ -n "$tf_sizes" ] && echo "- terraform: $("$terraform" version | head -n 1)"
echo "- yagura runs per size: $repeat (median by wall time)"
echo

log "building yagura (cargo build --release)"
(cd "$repo" && cargo build --release --quiet)
yagura="$repo/target/release/yagura"

# timed OUTFILE CMD...: runs CMD with stdout to OUTFILE under GNU time and
# prints "wall user sys maxrss_kb".
# The wall time is read from the clock in milliseconds, as GNU time's %e has
# only hundredths of a second.
timed() {
  local stdout=$1 out=$work/time.out start end
  shift
  start=$(date +%s%N)
  /usr/bin/time -o "$out" -f '%U %S %M' "$@" >"$stdout"
  end=$(date +%s%N)
  echo "$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f", (b - a) / 1e9 }') $(tail -n 1 "$out")"
}

# Prints the median line (by the first field) of its input.
median() {
  sort -n -k1,1 | awk '{ line[NR] = $0 } END { print line[int((NR + 1) / 2)] }'
}

# Results, keyed by size.
declare -A n_res y_json y_human tf_init tf_plan

for n in $all_yagura_sizes; do
  dir=$work/yagura-$n
  python3 "$repo/bench/gen_fleet.py" "$n" "$dir" 2>/dev/null
  "$yagura" -C "$dir" validate >/dev/null
  # The resource count comes from the plan's last line: "Plan: X to add, ...".
  n_res[$n]=$("$yagura" -C "$dir" plan --no-refresh | tail -n 1 | sed -n 's/^Plan: \([0-9]*\) to add.*/\1/p')
  log "yagura N=$n: ${n_res[$n]} resources"
  runs=""
  for _ in $(seq "$repeat"); do
    runs+=$(timed /dev/null "$yagura" -C "$dir" plan --no-refresh --format json)$'\n'
  done
  y_json[$n]=$(printf '%s' "$runs" | median)
  y_human[$n]=$(timed /dev/null "$yagura" -C "$dir" plan --no-refresh)
  log "  json  (wall user sys KB): ${y_json[$n]}"
  log "  human (wall user sys KB): ${y_human[$n]}"
done

for n in $tf_sizes; do
  dir=$work/terraform-$n
  python3 "$repo/bench/gen_fleet.py" "$n" "$dir" --terraform 2>/dev/null
  tf_init[$n]=$(cd "$dir" && timed /dev/null "$terraform" init -input=false -no-color)
  (cd "$dir" && "$terraform" validate -no-color >/dev/null)
  log "terraform N=$n: init ${tf_init[$n]}; planning"
  # The plan text goes to a file rather than /dev/null, to check its count.
  tf_plan[$n]=$(cd "$dir" && timed "$work/tf-plan-$n.txt" "$terraform" plan -refresh=false -lock=false -input=false -no-color)
  tf_count=$(sed -n 's/^Plan: \([0-9]*\) to add.*/\1/p' "$work/tf-plan-$n.txt")
  log "  plan  (wall user sys KB): ${tf_plan[$n]}; $tf_count to add"
  if [ "$tf_count" != "${n_res[$n]}" ]; then
    echo "run.sh: resource counts differ at N=$n: yagura ${n_res[$n]}, terraform $tf_count" >&2
    exit 1
  fi
done

mb() { awk -v kb="$1" 'BEGIN { printf "%.0f", kb / 1024 }'; }
cpu() { awk -v u="$1" -v s="$2" 'BEGIN { printf "%.2f", u + s }'; }

echo "| services | resources | yagura json wall s | yagura CPU s | yagura peak MB | µs/resource | yagura human wall s | terraform plan wall s | terraform CPU s | terraform peak MB | terraform/yagura |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in $all_yagura_sizes; do
  read -r w u s m <<<"${y_json[$n]}"
  read -r hw _ <<<"${y_human[$n]}"
  per=$(awk -v w="$w" -v r="${n_res[$n]}" 'BEGIN { printf "%.1f", w * 1e6 / r }')
  row="| $n | ${n_res[$n]} | $w | $(cpu "$u" "$s") | $(mb "$m") | $per | $hw"
  if [ -n "${tf_plan[$n]:-}" ]; then
    read -r tw tu ts tm <<<"${tf_plan[$n]}"
    ratio=$(awk -v t="$tw" -v y="$w" 'BEGIN { if (y > 0) printf "%.0f×", t / y; else print "∞" }')
    row+=" | $tw | $(cpu "$tu" "$ts") | $(mb "$tm") | $ratio |"
  else
    row+=" | | | | |"
  fi
  echo "$row"
done
echo
for n in $tf_sizes; do
  read -r w u s m <<<"${tf_init[$n]}"
  echo "- terraform init at N=$n: ${w} s wall, $(mb "$m") MB peak (not in the ratio)"
done
echo "- load after: $(uptime | sed 's/.*load average: //')"
[ "$keep" = 1 ] && echo "- fleets kept in $work"
exit 0
