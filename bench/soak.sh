#!/usr/bin/env bash
# Soak: `berth up` (release build) with three demo replicas behind the edge,
# under a steady load for DURATION, while the script deploys a new version
# every DEPLOY_EVERY seconds and kill -9s a random replica every KILL_EVERY
# seconds; then an HTTP/2 flood (h2load, FLOOD_CONNECTIONS x 100 streams).
#
# Reports: requests, failed requests (non-2xx/3xx and socket errors: must be
# 0, since one replica at a time dies and idempotent requests are retried),
# panics in every log (must be 0), and the edge's resident memory at start,
# at its peak, after the load and after the flood once idle.
#
#   DURATION=300 ./bench/soak.sh
#
# Needs: wrk, h2load (apt-get install wrk nghttp2-client), curl, cargo.
# Loopback only; everything it starts is stopped by PID on exit.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-180}
DEPLOY_EVERY=${DEPLOY_EVERY:-30}
KILL_EVERY=${KILL_EVERY:-7}
CONNECTIONS=${CONNECTIONS:-32}
FLOOD_CONNECTIONS=${FLOOD_CONNECTIONS:-200}
FLOOD_SECONDS=${FLOOD_SECONDS:-15}
for tool in wrk h2load curl; do
    command -v "$tool" >/dev/null || { echo "error: $tool is required (apt-get install wrk nghttp2-client curl)" >&2; exit 1; }
done
cargo build -q --release -p berth-cli -p berth-demo
BERTH=$PWD/target/release/berth
DEMO=$PWD/target/release/berth-demo
WORK=$(mktemp -d)
PIDS=()
cleanup() {
    "$BERTH" down "$WORK/berth.yaml" >/dev/null 2>&1 || true
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
HTTP=$(free_port); HTTPS=$(free_port); ADMIN=$(free_port)
cat > "$WORK/berth.yaml" <<SPEC
version: 1
name: soak
services:
  web:
    run: { command: ["$DEMO"], stop_timeout: 5s }
    ports: { http: 8080 }
    replicas: 3
    health:
      liveness: { http: /health, interval: 2s, failure_threshold: 3 }
      readiness: { http: /health/ready, interval: 1s }
    deploy: { strategy: rolling, health_timeout: 20s, drain_timeout: 3s }
edge:
  hosts: [localhost]
  listen: { http: $HTTP, https: $HTTPS, admin: $ADMIN }
  tls: { mode: self-signed }
  redirect_https: false
  routes:
    - { path: /, service: web }
SPEC
"$BERTH" up -d "$WORK/berth.yaml" >/dev/null
STATE="$WORK/.berth/base/state.json"
SUPERVISOR=$(python3 -c "import json,sys; print(json.load(open('$STATE'))['supervisor'])")
rss() { awk '/VmRSS/ { print int($2/1024) }' "/proc/$SUPERVISOR/status"; }
RSS_START=$(rss); RSS_PEAK=$RSS_START
echo "berth up pid $SUPERVISOR, edge http://127.0.0.1:$HTTP, RSS at start ${RSS_START} MiB"

wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Host: localhost" "http://127.0.0.1:$HTTP/api/slow?ms=2" > "$WORK/wrk.txt" 2>&1 &
WRK=$!; PIDS+=("$WRK")

start=$(date +%s); deploys=0; kills=0; version=1
next_deploy=$((start + DEPLOY_EVERY)); next_kill=$((start + KILL_EVERY))
while kill -0 "$WRK" 2>/dev/null; do
    now=$(date +%s)
    r=$(rss); [ "$r" -gt "$RSS_PEAK" ] && RSS_PEAK=$r
    if [ "$now" -ge "$next_kill" ]; then
        pid=$(python3 -c "import json,random; r=[x['pid'] for x in json.load(open('$STATE'))['replicas'] if x['service']=='web' and x.get('pid')]; print(random.choice(r))")
        kill -9 "$pid" 2>/dev/null && kills=$((kills + 1))
        next_kill=$((now + KILL_EVERY))
    fi
    if [ "$now" -ge "$next_deploy" ]; then
        version=$((version + 1))
        if "$BERTH" deploy web --file "$WORK/berth.yaml" --version "1.$version.0" > "$WORK/deploy.txt" 2>&1; then deploys=$((deploys + 1)); else echo "deploy 1.$version.0 failed: $(tail -n 3 "$WORK/deploy.txt")"; fi
        next_deploy=$(( $(date +%s) + DEPLOY_EVERY))
    fi
    sleep 1
done
wait "$WRK" || true
RSS_AFTER_LOAD=$(rss)

requests=$(awk '/requests in/ { print $1 }' "$WORK/wrk.txt")
non2xx=$(awk '/Non-2xx/ { print $NF }' "$WORK/wrk.txt"); non2xx=${non2xx:-0}
socket=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$WORK/wrk.txt"); socket=${socket:-0}
rps=$(awk '/Requests\/sec/ { print $2 }' "$WORK/wrk.txt")
p99=$(awk '/ 99%/ { print $2 }' "$WORK/wrk.txt")

# HTTP/2 flood over TLS: many connections, 100 streams each.
h2load -c "$FLOOD_CONNECTIONS" -m 100 -D "$FLOOD_SECONDS" -t 1 "https://localhost:$HTTPS/" > "$WORK/h2load.txt" 2>&1 &
H2=$!; PIDS+=("$H2")
FLOOD_PEAK=0
while kill -0 "$H2" 2>/dev/null; do r=$(rss); [ "$r" -gt "$FLOOD_PEAK" ] && FLOOD_PEAK=$r; sleep 0.5; done
wait "$H2" || true
sleep 5
RSS_AFTER_FLOOD=$(rss)
h2_done=$(awk '/^requests:/ { print $2 " total, " $8 " succeeded, " $10 " failed, " $12 " errored" }' "$WORK/h2load.txt")
h2_status=$(awk '/^status codes:/ { print }' "$WORK/h2load.txt")

panics=$( (grep -rh "panicked" "$WORK/.berth/base/logs" 2>/dev/null || true) | wc -l)
status_ok=$("$BERTH" status "$WORK/berth.yaml" >/dev/null 2>&1 && echo yes || echo no)

echo
echo "soak: ${DURATION}s, $CONNECTIONS connections, $deploys deploys, $kills replica kills"
echo "requests: $requests ($rps/s, p99 $p99)"
echo "failed: $non2xx non-2xx/3xx, $socket socket errors"
echo "panics in logs: $panics"
echo "h2 flood ($FLOOD_CONNECTIONS conns x 100 streams, ${FLOOD_SECONDS}s): $h2_done; $h2_status"
echo "edge RSS (MiB): start $RSS_START, peak under load $RSS_PEAK, after load $RSS_AFTER_LOAD, peak under flood $FLOOD_PEAK, idle after flood $RSS_AFTER_FLOOD"
echo "status healthy at the end: $status_ok"
[ "$non2xx" = 0 ] && [ "$socket" = 0 ] && [ "$panics" = 0 ] && [ "$status_ok" = yes ]
