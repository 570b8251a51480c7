#!/usr/bin/env bash
# Records what `terraform console` prints for each expression of the golden corpus.
#
# Usage: scripts/console-goldens.sh [corpus] [expected]
#
# The corpus has one expression per line; `#` starts a comment line and a line
# ending in `\` continues on the next one (the pair becomes a newline). A
# single-line expression is piped to `terraform console`; a multi-line one (piped
# console input is read line by line) is written as `locals { v = ... }` into
# main.tf and `local.v` is evaluated instead. Each entry is written as
# `## <expr>` followed by terraform's stdout, or by `error: <summary>` when it
# fails, and a blank line. Needs only terraform on PATH; no network.
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
corpus="${1:-$root/tests/goldens/console/corpus.txt}"
expected="${2:-$root/tests/goldens/console/expected.txt}"
terraform="${TERRAFORM:-terraform}"

export TF_CLI_CONFIG_FILE=/dev/null
export TF_IN_AUTOMATION=1
export CHECKPOINT_DISABLE=1
unset TF_LOG

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

# Evaluates one expression in an empty directory and prints the entry body.
evaluate() {
    local expr="$1"
    local dir="$scratch/run"
    rm -rf "$dir" && mkdir "$dir"
    local input="$expr"
    if [[ "$expr" == *$'\n'* ]]; then
        printf 'locals {\n  v = %s\n}\n' "$expr" >"$dir/main.tf"
        input="local.v"
    fi
    local status=0
    (cd "$dir" && printf '%s\n' "$input" | "$terraform" console -no-color \
        >"$scratch/stdout" 2>"$scratch/stderr") || status=$?
    if [[ $status -eq 0 ]]; then
        cat "$scratch/stdout"
    else
        local summary
        summary="$(grep -m1 '^Error: ' "$scratch/stderr" | sed 's/^Error: //' || true)"
        printf 'error: %s\n' "${summary:-terraform exited with status $status}"
    fi
}

"$terraform" version | head -n1 >&2
out="$scratch/expected"
: >"$out"
entry=""
count=0
while IFS= read -r line || [[ -n "$line" ]]; do
    if [[ -z "$entry" && ( "$line" =~ ^[[:space:]]*# || "$line" =~ ^[[:space:]]*$ ) ]]; then
        continue
    fi
    if [[ "$line" == *\\ ]]; then
        entry+="${line%\\}"$'\n'
        continue
    fi
    entry+="$line"
    {
        # The header keeps the corpus form: continued lines end in `\`.
        printf '%s\n' "$entry" | sed -e 's/^/## /' -e '$!s/$/\\/'
        evaluate "$entry"
        printf '\n'
    } >>"$out"
    count=$((count + 1))
    entry=""
done <"$corpus"

mv "$out" "$expected"
echo "recorded $count expressions in $expected" >&2
