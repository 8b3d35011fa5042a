#!/usr/bin/env bash
# Backup plus a verified restore, end to end, on one PostgreSQL database:
# the usual hand-written script (pg_dump | gzip, then gunzip | psql into a
# fresh database) against berth's logical path (parallel pg_dump, zstd,
# restore into a scratch server, row counts compared) and physical path
# (pg_basebackup with zstd, then recovery in a scratch server with
# pg_verifybackup). Median of RUNS runs; wall time and backup size.
#
#   ./bench/backup-vs-pgdump.sh           # SCALE=4: about 600 MB of data and indexes
#   SCALE=1 RUNS=3 ./bench/backup-vs-pgdump.sh
#
# The data is realistic on purpose: random text, JSON, UUIDs and
# timestamps across tables with indexes (pgbench's blank filler
# compresses ~35x and hides the cost of compression).
# Everything runs on loopback; every process started is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
SCALE="${SCALE:-4}"
RUNS="${RUNS:-3}"
JOBS="${JOBS:-$(nproc)}"
bin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
work="$(mktemp -d /tmp/berth-bench.XXXXXX)"
chmod 755 "$work"
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_pid=""
cleanup() {
    [ -z "$pg_pid" ] || kill "$pg_pid" 2>/dev/null || true
    [ -z "$pg_pid" ] || while kill -0 "$pg_pid" 2>/dev/null; do sleep 0.1; done
    rm -rf "$work"
}
trap cleanup EXIT

cargo build --release -q -p berth-cli
berth="$PWD/target/release/berth"

# A server of its own on a free loopback port.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$work/pg"
[ "$(id -u)" -ne 0 ] || chown postgres "$work/pg"
as_pg "$bin/initdb" -D "$work/pg/data" -U bench --auth=trust -E UTF8 --locale=C >/dev/null
as_pg "$bin/postgres" -D "$work/pg/data" -p "$port" -k "$work/pg" -c listen_addresses=127.0.0.1 \
    -c max_wal_size=4GB -c shared_buffers=256MB >"$work/pg.log" 2>&1 &
pg_pid=$!
until "$bin/pg_isready" -q -h 127.0.0.1 -p "$port"; do sleep 0.2; done
psql() { "$bin/psql" -h 127.0.0.1 -p "$port" -U bench -v ON_ERROR_STOP=1 -qAtX "$@"; }
psql -d postgres -c "CREATE DATABASE shop"

echo "==> loading SCALE=$SCALE"
psql -d shop <<SQL
CREATE TABLE customers (id bigserial PRIMARY KEY, email text UNIQUE NOT NULL, name text, bio text, created_at timestamptz NOT NULL);
CREATE TABLE orders (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), customer_id bigint, total numeric(12,2), items jsonb, placed_at timestamptz NOT NULL);
CREATE TABLE events (id bigserial PRIMARY KEY, kind text NOT NULL, session uuid, payload jsonb, at timestamptz NOT NULL);
INSERT INTO customers (email, name, bio, created_at)
  SELECT 'user' || i || '@example.com', md5(random()::text), repeat(md5(random()::text), 3), now() - random() * interval '900 days'
  FROM generate_series(1, 100000 * $SCALE) i;
INSERT INTO orders (customer_id, total, items, placed_at)
  SELECT 1 + (random() * 100000 * $SCALE)::bigint, round((random() * 500)::numeric, 2),
         jsonb_build_object('sku', md5(random()::text), 'qty', (random() * 9)::int, 'gift', random() < 0.1, 'note', md5(random()::text)),
         now() - random() * interval '900 days'
  FROM generate_series(1, 300000 * $SCALE) i;
INSERT INTO events (kind, session, payload, at)
  SELECT (ARRAY['login','view','cart','buy','logout'])[1 + (random() * 4)::int], gen_random_uuid(),
         jsonb_build_object('path', '/p/' || md5(random()::text), 'ms', (random() * 900)::int, 'ua', md5(random()::text)),
         now() - random() * interval '90 days'
  FROM generate_series(1, 500000 * $SCALE) i;
CREATE INDEX ON orders (customer_id);
CREATE INDEX ON orders (placed_at);
CREATE INDEX ON events (kind, at);
CREATE INDEX ON events (session);
CHECKPOINT;
VACUUM ANALYZE;
SQL
size=$(psql -d shop -c "SELECT pg_size_pretty(pg_database_size('shop'))")
split=$(psql -d shop -c "SELECT pg_size_pretty(sum(pg_table_size(oid))) || ' tables, ' || pg_size_pretty(sum(pg_indexes_size(oid))) || ' indexes' FROM pg_class WHERE relkind = 'r' AND relnamespace = 'public'::regnamespace")
echo "database: $size ($split) on PostgreSQL $(psql -d shop -c 'SHOW server_version'), $(nproc) cores, $RUNS runs, $JOBS jobs"

cat >"$work/berth.yaml" <<YAML
version: 1
name: bench
services:
  app:
    run: { command: ["true"] }
    uses: [db]
dependencies:
  db:
    kind: postgres
    database: shop
    user: bench
    backup: { schedule: "0 3 * * *", to: ./backups, method: logical }
YAML
url="postgres://bench@127.0.0.1:$port/shop"

now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

plain_run() {
    local t0 t1 t2
    rm -f "$work/dump.sql.gz"
    t0=$(now)
    set -o pipefail
    "$bin/pg_dump" -h 127.0.0.1 -p "$port" -U bench -d shop | gzip >"$work/dump.sql.gz"
    t1=$(now)
    psql -d postgres -c "DROP DATABASE IF EXISTS restored" -c "CREATE DATABASE restored"
    gunzip -c "$work/dump.sql.gz" | psql -d restored >/dev/null
    t2=$(now)
    echo "$(echo "$t1 - $t0" | bc) $(echo "$t2 - $t1" | bc) $(stat -c %s "$work/dump.sql.gz")"
}

berth_run() { # method
    local t0 t1 t2 dir
    rm -rf "$work/backups"
    t0=$(now)
    (cd "$work" && "$berth" backup db --from "$url" --method "$1" -j "$JOBS" --work-dir "$work/tmp" -o json >"$work/m.json" 2>/dev/null)
    t1=$(now)
    (cd "$work" && "$berth" backup verify db --from "$url" -j "$JOBS" --work-dir "$work/tmp" >/dev/null 2>&1)
    t2=$(now)
    dir=$(ls -d "$work"/backups/db/backups/*)
    echo "$(echo "$t1 - $t0" | bc) $(echo "$t2 - $t1" | bc) $(du -sb --exclude=verification.json --exclude=manifest.json "$dir" | cut -f1)"
}

report() { # name, file of "backup restore size" lines
    local b r s
    b=$(cut -d' ' -f1 "$2" | median); r=$(cut -d' ' -f2 "$2" | median); s=$(cut -d' ' -f3 "$2" | median)
    printf '%-34s %9.2f s %9.2f s %9.2f s %10.1f MiB\n' "$1" "$b" "$r" "$(echo "$b + $r" | bc)" "$(echo "$s / 1048576" | bc -l)"
    echo "$b $r $s" >"$work/$1.median"
}

for _ in $(seq "$RUNS"); do plain_run >>"$work/plain"; done
# A physical backup copies the whole cluster: the plain path's restored copy
# must not be in it.
psql -d postgres -c "DROP DATABASE restored" -c CHECKPOINT
for _ in $(seq "$RUNS"); do berth_run logical >>"$work/logical"; done
for _ in $(seq "$RUNS"); do berth_run physical >>"$work/physical"; done

printf '\n%-34s %11s %11s %11s %14s\n' "median of $RUNS" backup "restore+verify" total size
report "pg_dump | gzip; gunzip | psql" "$work/plain"
report "berth logical (pg_dump -Fd, zstd)" "$work/logical"
report "berth physical (basebackup, zstd)" "$work/physical"
read -r pb pr ps <"$work/pg_dump | gzip; gunzip | psql.median"
for name in "berth logical (pg_dump -Fd, zstd)" "berth physical (basebackup, zstd)"; do
    read -r b r s <"$work/$name.median"
    printf '%-34s %.2fx faster end to end, backup %.2fx the size\n' "$name" "$(echo "($pb + $pr) / ($b + $r)" | bc -l)" "$(echo "$s / $ps" | bc -l)"
done

# BREAKDOWN=1: where a physical backup's bytes go. An uncompressed base
# backup's table and index files, each compressed alone with zstd at the
# level berth uses (3) and at the strongest practical one (19), against the
# whole gzip dump: the floor under any physical backup of this data.
if [ "${BREAKDOWN:-0}" = 1 ]; then
    "$bin/pg_basebackup" -h 127.0.0.1 -p "$port" -U bench -D "$work/raw" -Ft -X fetch --checkpoint=fast
    mkdir "$work/raw/x"
    tar -xf "$work/raw/base.tar" -C "$work/raw/x"
    declare -A raw z3 z19
    while IFS='|' read -r kind path; do
        for f in "$work/raw/x/$path" "$work/raw/x/$path".[0-9]*; do
            [ -f "$f" ] || continue
            raw[$kind]=$(( ${raw[$kind]:-0} + $(stat -c %s "$f") ))
            z3[$kind]=$(( ${z3[$kind]:-0} + $(zstd -q -3 -T"$JOBS" -c "$f" | wc -c) ))
            z19[$kind]=$(( ${z19[$kind]:-0} + $(zstd -q -19 -T"$JOBS" -c "$f" | wc -c) ))
        done
    done < <(psql -d shop -c "SELECT CASE relkind WHEN 'i' THEN 'indexes' ELSE 'tables' END, pg_relation_filepath(oid) FROM pg_class WHERE relkind IN ('r', 'i', 't') AND relfilenode <> 0 AND relnamespace IN ('public'::regnamespace, 'pg_toast'::regnamespace) AND pg_relation_filepath(oid) LIKE 'base/' || (SELECT oid FROM pg_database WHERE datname = 'shop') || '/%'")
    mib() { echo "scale=1; $1 / 1048576" | bc; }
    printf '\n%-28s %10s %10s %10s\n' "shop's files (MiB)" raw zstd-3 zstd-19
    for kind in tables indexes; do
        printf '%-28s %10s %10s %10s\n' "$kind" "$(mib "${raw[$kind]}")" "$(mib "${z3[$kind]}")" "$(mib "${z19[$kind]}")"
    done
    printf '%-28s %10s\n' "pg_dump | gzip" "$(mib "$ps")"
fi
