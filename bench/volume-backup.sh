#!/usr/bin/env bash
# A volume backup with berth against what an operator would otherwise
# script, side by side on one generated tree: `tar --zstd -cf` for the
# backup, and `tar --zstd -xf` into a scratch directory for the check
# (berth's verify also compares every file with the manifest). Rounds are
# interleaved (tar, berth, tar, berth, ...) and medians printed with the
# spread: machines are noisy.
#
#   ./bench/volume-backup.sh                 # 2,000 files, ~200 MB
#   FILES=20000 MB=1000 ROUNDS=5 ./bench/volume-backup.sh
#
# Everything stays on this machine; the berth binary is built in release.
set -euo pipefail
cd "$(dirname "$0")/.."
FILES="${FILES:-2000}"
MB="${MB:-200}"
ROUNDS="${ROUNDS:-5}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

[ -n "${BERTH:-}" ] || { cargo build --release -q -p berth-cli; BERTH=./target/release/berth; }
vol="$work/vol"
python3 - "$vol" "$FILES" "$MB" <<'EOF'
import os, random, sys
root, files, mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
random.seed(7)
per = mb * 1024 * 1024 // files
words = [bytes(random.choice(b"abcdefghij klmnop\n") for _ in range(64)) for _ in range(256)]
for i in range(files):
    d = os.path.join(root, f"d{i % 40}", f"e{i % 7}")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"f{i}.bin"), "wb") as f:
        if i % 3 == 0:
            f.write(os.urandom(per))  # already compressed (images, models)
        else:
            f.write(b"".join(random.choice(words) for _ in range(per // 64)))  # text-like
EOF
cat > "$work/berth.yaml" <<EOF
version: 1
name: bench
services:
  app:
    run: { command: ["sleep", "600"] }
    volumes:
      data:
        path: /srv/bench-data
        backup: { schedule: "0 3 * * *", to: $work/backups }
EOF
echo "volume: $FILES files, $(du -sh "$vol" | cut -f1), $(nproc) cores, $ROUNDS interleaved rounds"

timed() { # out-file, command... -> appends "wall rss_kib"
    local out="$1"; shift
    /usr/bin/time -f "%e %M" -o "$work/t" "$@" >/dev/null 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
    tail -n 1 "$work/t" >>"$out"
}

for round in $(seq "$ROUNDS"); do
    rm -f "$work/tar.tar.zst"; rm -rf "$work/backups" "$work/untar"
    timed "$work/tar-backup" tar --zstd -cf "$work/tar.tar.zst" -C "$vol" .
    timed "$work/berth-backup" "$BERTH" backup app.data -f "$work/berth.yaml" --dir "$vol" --work-dir "$work/w"
    mkdir -p "$work/untar"
    timed "$work/tar-check" tar --zstd -xf "$work/tar.tar.zst" -C "$work/untar"
    timed "$work/berth-verify" "$BERTH" backup verify app.data -f "$work/berth.yaml" --dir "$vol" --work-dir "$work/w"
done

report() { # name, file
    sort -n "$2" | awk -v n="$1" '{w[NR]=$1; r[NR]=$2} END {
        m = (NR % 2) ? w[(NR+1)/2] : (w[NR/2] + w[NR/2+1]) / 2
        maxr = 0; for (i in r) if (r[i] > maxr) maxr = r[i]
        printf "%-22s median %6.2f s  (min %.2f, max %.2f)  peak RSS %6.0f MiB\n", n, m, w[1], w[NR], maxr/1024 }'
}
report "tar --zstd -cf" "$work/tar-backup"
report "berth backup" "$work/berth-backup"
report "tar --zstd -xf" "$work/tar-check"
report "berth backup verify" "$work/berth-verify"
printf 'stored: tar %s, berth %s\n' "$(du -sh "$work/tar.tar.zst" | cut -f1)" "$(du -sh "$work/backups" | cut -f1)"
