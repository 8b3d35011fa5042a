#!/usr/bin/env bash
# berth check vs checkov on one generated corpus of Kubernetes manifests,
# side by side: wall time, files per second, peak memory (max RSS).
#
#   ./bench/check-corpus.sh            # 3,500 files, both tools
#   FILES=10000 ./bench/check-corpus.sh
#   SKIP_CHECKOV=1 ./bench/check-corpus.sh
#
# checkov is installed from PyPI into .tools/bench-venv on first use (it is
# not part of the test suite). Everything runs on this machine; no network
# beyond that one install.
set -euo pipefail
cd "$(dirname "$0")/.."
FILES="${FILES:-3500}"
RUNS="${RUNS:-3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cargo build --release -q -p berth-cli
python3 bench/gen-k8s-corpus.py "$work/corpus" "$FILES"
size=$(du -sh "$work/corpus" | cut -f1)
echo "corpus: $FILES files ($size), $(nproc) cores"

measure() { # name, command...
    local name="$1"; shift
    local best_wall="" best_rss=""
    for _ in $(seq "$RUNS"); do
        /usr/bin/time -f "%e %M" -o "$work/time" "$@" >"$work/out" 2>/dev/null || true
        read -r wall rss < <(tail -n 1 "$work/time")
        if [ -z "$best_wall" ] || awk "BEGIN{exit !($wall < $best_wall)}"; then best_wall=$wall; fi
        if [ -z "$best_rss" ] || [ "$rss" -gt "$best_rss" ]; then best_rss=$rss; fi
    done
    awk -v n="$name" -v w="$best_wall" -v r="$best_rss" -v f="$FILES" \
        'BEGIN{printf "%-10s %8.2f s %10.0f files/s %8.0f MiB peak\n", n, w, f/w, r/1024}'
}

printf '%-10s %10s %16s %13s\n' tool "wall (best of $RUNS)" "" "max RSS (worst)"
measure berth ./target/release/berth check "$work/corpus" -o json
if [ -z "${SKIP_CHECKOV:-}" ]; then
    if [ ! -x .tools/bench-venv/bin/checkov ]; then
        python3 -m venv .tools/bench-venv
        .tools/bench-venv/bin/pip install -q checkov
    fi
    RUNS=1 measure checkov .tools/bench-venv/bin/checkov -d "$work/corpus" --framework kubernetes --quiet --compact -o json
fi
