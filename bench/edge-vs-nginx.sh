#!/usr/bin/env bash
# The berth edge against nginx, side by side, same machine, same upstream
# (nginx `return 200`), same features, in three configurations:
#   plain     keepalive to the upstream
#   features  + a rate limit that never rejects + security headers + access log
#   up        features + what `berth up` adds: 8 routes (longest prefix), a 1 s health check, the admin listener
#   tls       features over TLS 1.3
#   h2        the same over HTTP/2 (h2load, 10 streams per connection)
#   ws        WebSocket messages: CONNECTIONS sockets through the proxy to an
#             echo upstream (ws_bench), each sending 64 bytes and awaiting the echo
# wrk runs on core 0; the proxy and the upstream share core 1; one worker each.
# nginx and berth take turns (ROUNDS=5 rounds each, DURATION per run); prints
# median requests/s and p99 with their spread, resident memory, and ratios.
# Needs: nginx, wrk, h2load (nghttp2-client), taskset (util-linux), cargo.   Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-64}
for tool in nginx wrk h2load taskset; do
    command -v "$tool" >/dev/null || { echo "error: $tool is required (apt-get install nginx wrk util-linux)" >&2; exit 1; }
done
cargo build -q --release -p berth-edge --example edge_bench --example ws_bench
BIN=$PWD/target/release/examples/edge_bench
WS=$PWD/target/release/examples/ws_bench
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

UPSTREAM=19100; NGINX_PORT=19101; EDGE_PORT=19102; WS_UPSTREAM=19103
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout "$WORK/key.pem" -out "$WORK/cert.pem" 2>/dev/null

nginx_conf() { # $1 mode
    local mode=$1 listen="listen 127.0.0.1:$NGINX_PORT;" extra="" log="access_log off;"
    if [ "$mode" != plain ]; then
        extra='limit_req zone=bench burst=10000000 nodelay;
            add_header X-Content-Type-Options "nosniff" always;
            add_header X-Frame-Options "DENY" always;
            add_header Referrer-Policy "strict-origin-when-cross-origin" always;'
        log="access_log $WORK/nginx-access.log combined buffer=64k flush=5s;"
    fi
    if [ "$mode" = tls ]; then
        listen="listen 127.0.0.1:$NGINX_PORT ssl; ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem; ssl_protocols TLSv1.3;"
    fi
    if [ "$mode" = h2 ]; then
        listen="listen 127.0.0.1:$NGINX_PORT ssl http2; ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem; ssl_protocols TLSv1.3;"
    fi
    # `berth up`'s edge: the same seven prefixes before the catch-all.
    local locations=""
    if [ "$mode" = up ]; then
        for path in /api /api/v1/auth /api/v1/admin /static /live /metrics /v1/imports; do
            locations="$locations location $path { $extra proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }
        "
        done
    fi
    local upstream="server 127.0.0.1:$UPSTREAM; keepalive 64;"
    local root="location / { $extra proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\"; }"
    if [ "$mode" = ws ]; then
        upstream="server 127.0.0.1:$WS_UPSTREAM;"
        root="location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Upgrade \$http_upgrade; proxy_set_header Connection upgrade; proxy_read_timeout 1h; }"
    fi
    cat > "$WORK/proxy.conf" <<CONF
worker_processes 1;
pid $WORK/proxy.pid;
error_log $WORK/proxy-error.log;
events { worker_connections 4096; }
http {
    limit_req_zone \$binary_remote_addr zone=bench:10m rate=10000000r/s;
    upstream up { $upstream }
    server {
        $listen
        $log
        $locations
        $root
    }
}
CONF
}

cat > "$WORK/upstream.conf" <<CONF
worker_processes 1;
pid $WORK/upstream.pid;
error_log $WORK/upstream-error.log;
events { worker_connections 4096; }
http { access_log off; server { listen 127.0.0.1:$UPSTREAM; location / { return 200 "ok\n"; } } }
CONF
taskset -c 1 nginx -p "$WORK" -c "$WORK/upstream.conf" -g 'daemon off;' & PIDS+=($!)
taskset -c 1 "$WS" echo "$WS_UPSTREAM" & PIDS+=($!)
sleep 0.5

# One wrk run (h2load for HTTP/2): "rps p99_ms rss_kib". h2load reports
# no percentiles: its column is the mean request time.
measure() { # $1 url $2 pid
    local out rss rps p99
    if [ "$MODE" = ws ]; then
        out=$(taskset -c 0 "$WS" load "${1/http:/ws:}" "$CONNECTIONS" "${DURATION%s}")
        rss=$(ps -o rss= -p "$2" | tr -d ' ')
        echo "$out $rss"
        return
    fi
    if [ "$MODE" = h2 ]; then
        out=$(taskset -c 0 h2load -t1 -c"$CONNECTIONS" -m10 -D"${DURATION%s}" "$1" 2>/dev/null)
        rss=$(ps -o rss= -p "$2" | tr -d ' ')
        rps=$(awk '/^finished in/ {print $4}' <<<"$out")
        p99=$(awk '$1=="time" && $2=="for" && $3=="request:" {v=$6; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' <<<"$out")
        echo "$rps $p99 $rss"
        return
    fi
    out=$(taskset -c 0 wrk -t1 -c"$CONNECTIONS" -d"$DURATION" --latency "$1")
    rss=$(ps -o rss= -p "$2" | tr -d ' ')
    rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
    # wrk prints 1.23ms, 456.78us or 1.02s; normalise to milliseconds.
    p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; print v}' <<<"$out")
    echo "$rps $p99 $rss"
}

# Median and spread (min-max) of a column of numbers.
stats() { sort -g | awk '{v[NR]=$1} END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%.1f %.1f %.1f", m, v[1], v[NR]}'; }

# The machine is noisy: nginx and berth take turns, ROUNDS times each, and
# the medians are compared.
ROUNDS=${ROUNDS:-5}
for MODE in ${MODES:-plain features up tls h2 ws}; do
    scheme=http; [ "$MODE" = tls ] || [ "$MODE" = h2 ] && scheme=https
    nginx_conf "$MODE"
    taskset -c 1 nginx -p "$WORK" -c "$WORK/proxy.conf" -g 'daemon off;' & NGINX_PID=$!; PIDS+=($NGINX_PID)
    edge_mode=$MODE; [ "$MODE" = h2 ] && edge_mode=tls
    backend=$UPSTREAM; [ "$MODE" = ws ] && backend=$WS_UPSTREAM
    (cd "$WORK" && exec taskset -c 1 "$BIN" "$EDGE_PORT" "127.0.0.1:$backend" "$edge_mode" >/dev/null) & EDGE_PID=$!; PIDS+=($EDGE_PID)
    sleep 1
    : > "$WORK/nginx.$MODE"; : > "$WORK/berth.$MODE"
    for round in $(seq "$ROUNDS"); do
        measure "$scheme://127.0.0.1:$NGINX_PORT/" "$NGINX_PID" >> "$WORK/nginx.$MODE"
        measure "$scheme://127.0.0.1:$EDGE_PORT/" "$EDGE_PID" >> "$WORK/berth.$MODE"
    done
    for who in nginx berth; do
        read -r rps rlo rhi <<<"$(cut -d' ' -f1 "$WORK/$who.$MODE" | stats)"
        read -r p99 plo phi <<<"$(cut -d' ' -f2 "$WORK/$who.$MODE" | stats)"
        rss=$(tail -1 "$WORK/$who.$MODE" | cut -d' ' -f3)
        latency=p99; [ "$MODE" = h2 ] && latency=mean
        unit=req/s; [ "$MODE" = ws ] && unit=msg/s
        printf '%-9s %-6s median %10s %s (%s-%s)  %s %7s ms (%s-%s)  rss %6s KiB\n' "$MODE" "$who" "$rps" "$unit" "$rlo" "$rhi" "$latency" "$p99" "$plo" "$phi" "$rss"
        eval "${who}_rps=$rps ${who}_p99=$p99"
    done
    awk -v br="$berth_rps" -v nr="$nginx_rps" -v bp="$berth_p99" -v np="$nginx_p99" -v m="$MODE" -v r="$ROUNDS" -v lat="$latency" \
        'BEGIN { printf "%-9s berth/nginx: throughput %.2f, %s %.2f (medians of %d interleaved rounds)\n", m, br / nr, lat, bp / np, r }'
    kill "$NGINX_PID" "$EDGE_PID"; wait "$NGINX_PID" "$EDGE_PID" 2>/dev/null || true
done
