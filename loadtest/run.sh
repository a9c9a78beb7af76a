#!/usr/bin/env bash
# Portico vs nginx on this machine, bounded in time, loopback only.
#
#   loadtest/run.sh                 # all scenarios, 3 interleaved rounds of 10 s each
#   DURATION=5 ROUNDS=1 loadtest/run.sh proxy
#   BASELINE=/path/to/old/portico loadtest/run.sh proxy mock   # before/after: the old binary too,
#                                   # in the same rounds, on the same CPU, against the same nginx
#
# Layout (2 cores): the proxy under test (Portico with 1 worker, or nginx with 1 worker process)
# is pinned to CPU 1; wrk (1 thread) and the upstream (nginx, 1 worker, `return 200`) share CPU 0.
# nginx as proxy keeps an upstream keep-alive pool of 1024 (never smaller than the connection count)
# and adds the same X-Forwarded-* headers Portico adds, so both do the same work.
#
# Scenarios:
#   proxy  GET /pets/7 proxied to the upstream, at 50 and 256 connections
#   mock   Portico mock integration vs nginx `return 200` (no upstream), at 50 and 256 connections
#   cache  100% cache hits: Portico's stage cache vs nginx `proxy_cache` (cache files on tmpfs, so
#          served from memory), the same 35-byte object from the upstream, warmed before measuring
#   tls        GET /ping (mock vs `return 200`) over TLS keep-alive connections, same P-256 certificate
#   handshake  the same with `Connection: close`: every request is a new connection and a full TLS
#              handshake (wrk does not resume sessions), so this is handshakes per second
# Prints requests/s, p99 and requests per CPU-second of the proxy (utime + stime of its processes
# from /proc, over the same run: req/s per proxy core) per run, the medians per server, and the
# ratios Portico / nginx (and baseline / nginx).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-"50 256"}
SCENARIOS=${*:-"proxy mock cache"}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}

. loadtest/lib.sh
install_missing wrk nginx
prepare loadtest
cleanup_more() { rm -rf /dev/shm/"$(basename "$WORK")"-*; }

UP_PORT=18090; NGX_PORT=18081; PTC_PORT=18080; NGX_TLS_PORT=18444; PTC_TLS_PORT=18443
OLD_PORT=18180; OLD_TLS_PORT=18543
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/key.pem" \
    -out "$WORK/cert.pem" -days 2 -subj /CN=localhost -addext subjectAltName=DNS:localhost 2>/dev/null
BODY='{"id":7,"type":"fish","price":0.99}'

nginx_conf() { # $1 = name, $2 = server block
    cat > "$WORK/$1.conf" <<NGX
worker_processes 1;
daemon off;
pid $WORK/$1.pid;
error_log $WORK/$1.err warn;
events { worker_connections 8192; multi_accept on; }
http {
    access_log off;
    keepalive_requests 1000000;
    upstream up { server 127.0.0.1:$UP_PORT; keepalive 1024; keepalive_requests 1000000; }
    proxy_cache_path /dev/shm/$(basename "$WORK")-$1 keys_zone=hot:10m max_size=100m;
    $2
}
NGX
}

nginx_conf upstream "server { listen 127.0.0.1:$UP_PORT reuseport; location / { default_type application/json; return 200 '$BODY'; } }"
nginx_conf proxy "server { listen 127.0.0.1:$NGX_TLS_PORT ssl reuseport;
    ssl_certificate $WORK/cert.pem; ssl_certificate_key $WORK/key.pem; ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache shared:SSL:10m;
    location = /ping { default_type application/json; return 200 '{\"pong\":true}'; } }
  server { listen 127.0.0.1:$NGX_PORT reuseport;
    location = /ping { default_type application/json; return 200 '{\"pong\":true}'; }
    location /cached/ { proxy_cache hot; proxy_cache_valid 200 300s; proxy_pass http://up/;
        proxy_http_version 1.1; proxy_set_header Connection \"\"; }
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection \"\";
        proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for; proxy_set_header X-Forwarded-Proto \$scheme;
        proxy_set_header X-Forwarded-Port \$server_port; } }"

cat > "$WORK/portico.toml" <<TOML
[server]
listen = ["127.0.0.1:$PTC_PORT"]
listen_tls = ["127.0.0.1:$PTC_TLS_PORT"]
[workers]
count = 1
pin = true
cpus = [$PROXY_CPU]
[tls]
default_certificate = { cert = "$WORK/cert.pem", key = "$WORK/key.pem" }
# nginx has no gateway-wide rate limit (Portico has none unless configured; older builds had
# AWS's 10,000 requests/s on by default, which this turns off for a BASELINE run).
[throttle]
enabled = false
[[api]]
name = "bench"
[[api.stage]]
name = "\$default"
variables = { backend = "127.0.0.1:$UP_PORT" }
[[api.stage]]
name = "cached"
variables = { backend = "127.0.0.1:$UP_PORT" }
cache = { capacity_mb = 16, ttl_s = 300, status_header = false }
[[api.route]]
key = "GET /pets/{id}"
integration = { type = "http_proxy", uri = "http://\${stageVariables.backend}/pets/{id}" }
[[api.route]]
key = "GET /ping"
integration = { type = "mock", body = '{"pong":true}' }
TOML

taskset -c "$LOAD_CPU" nginx -c "$WORK/upstream.conf" & PIDS+=($!)
taskset -c "$PROXY_CPU" nginx -c "$WORK/proxy.conf" & NGX_PID=$!; PIDS+=($NGX_PID)
PORTICO_LOG=warn "$BIN" serve -c "$WORK/portico.toml" 2>"$WORK/portico.log" & PTC_PID=$!; PIDS+=($PTC_PID)
for port in $UP_PORT $NGX_PORT $PTC_PORT; do wait_port "$port"; done
curl -sf "http://127.0.0.1:$PTC_PORT/pets/7" >/dev/null && curl -sf "http://127.0.0.1:$NGX_PORT/pets/7" >/dev/null
if [ -n "${BASELINE:-}" ]; then
    sed -e "s/:$PTC_PORT\"/:$OLD_PORT\"/; s/:$PTC_TLS_PORT\"/:$OLD_TLS_PORT\"/" "$WORK/portico.toml" > "$WORK/baseline.toml"
    PORTICO_LOG=warn "$BASELINE" serve -c "$WORK/baseline.toml" 2>"$WORK/baseline.log" & OLD_PID=$!; PIDS+=($OLD_PID)
    wait_port "$OLD_PORT"
    curl -sf "http://127.0.0.1:$OLD_PORT/pets/7" >/dev/null
fi

# CPU ticks (utime + stime) of a process and its children (nginx: the master and its worker).
cpu_ticks() {
    local total=0 p
    for p in "$1" $(pgrep -P "$1" || true); do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}
HZ=$(getconf CLK_TCK)
# run_wrk with the proxy's CPU time over the same run → "rps p99_ms rps_per_core".
measure() { # $1 url, $2 conns, $3 proxy pid
    local before after out
    before=$(cpu_ticks "$3")
    out=$(run_wrk "$1" "$2")
    after=$(cpu_ticks "$3")
    awk -v o="$out" -v t=$((after - before)) -v hz="$HZ" -v d="$DURATION" \
        'BEGIN {split(o, a, " "); cpu = t / hz; printf "%s %s %.0f\n", a[1], a[2], (cpu > 0 ? a[1] * d / cpu : 0)}'
}


echo "# $(date -u +%FT%TZ) $(uname -r) commit $(git rev-parse --short HEAD 2>/dev/null || echo none) duration=${DURATION}s rounds=$ROUNDS"
for scenario in $SCENARIOS; do
    WRK_ARGS=()
    [ "$scenario" = handshake ] && WRK_ARGS=(-H "Connection: close")
    case $scenario in
        proxy) P_URL="http://127.0.0.1:$PTC_PORT/pets/7"; N_URL="http://127.0.0.1:$NGX_PORT/pets/7" ;;
        tls|handshake) P_URL="https://127.0.0.1:$PTC_TLS_PORT/ping"; N_URL="https://127.0.0.1:$NGX_TLS_PORT/ping" ;;
        mock)  P_URL="http://127.0.0.1:$PTC_PORT/ping";   N_URL="http://127.0.0.1:$NGX_PORT/ping" ;;
        cache) P_URL="http://127.0.0.1:$PTC_PORT/cached/pets/7"; N_URL="http://127.0.0.1:$NGX_PORT/cached/pets/7"
               # Warm both caches (Portico: every worker's store; there is one worker here).
               curl -sf "$P_URL" >/dev/null; curl -sf "$N_URL" >/dev/null ;;
        *) echo "unknown scenario $scenario" >&2; exit 2 ;;
    esac
    O_URL=${P_URL/:$PTC_PORT\//:$OLD_PORT/}; O_URL=${O_URL/:$PTC_TLS_PORT\//:$OLD_TLS_PORT/}
    [ -n "${BASELINE:-}" ] && [ "$scenario" = cache ] && curl -sf "$O_URL" >/dev/null
    for c in $CONNS; do
        : > "$WORK/p"; : > "$WORK/n"; : > "$WORK/o"
        for r in $(seq "$ROUNDS"); do
            measure "$P_URL" "$c" "$PTC_PID" >> "$WORK/p"
            [ -n "${BASELINE:-}" ] && measure "$O_URL" "$c" "$OLD_PID" >> "$WORK/o"
            measure "$N_URL" "$c" "$NGX_PID" >> "$WORK/n"
            printf '  %-5s c=%-3s round %s  portico %s rps p99 %s ms %s rps/core | nginx %s rps p99 %s ms %s rps/core\n' \
                "$scenario" "$c" "$r" $(tail -1 "$WORK/p") $(tail -1 "$WORK/n")
            [ -n "${BASELINE:-}" ] && printf '  %-5s c=%-3s round %s  baseline %s rps p99 %s ms %s rps/core\n' \
                "$scenario" "$c" "$r" $(tail -1 "$WORK/o")
        done
        prps=$(cut -d' ' -f1 "$WORK/p" | median); nrps=$(cut -d' ' -f1 "$WORK/n" | median)
        pp99=$(cut -d' ' -f2 "$WORK/p" | median); np99=$(cut -d' ' -f2 "$WORK/n" | median)
        pcore=$(cut -d' ' -f3 "$WORK/p" | median); ncore=$(cut -d' ' -f3 "$WORK/n" | median)
        ratio=$(awk -v a="$prps" -v b="$nrps" 'BEGIN {printf "%.3f", a/b}')
        core_ratio=$(awk -v a="$pcore" -v b="$ncore" 'BEGIN {printf "%.3f", (b > 0 ? a/b : 0)}')
        printf '%-5s c=%-3s median: portico %s rps (p99 %s ms, %s rps/core)  nginx %s rps (p99 %s ms, %s rps/core)  ratio %s, per core %s\n' \
            "$scenario" "$c" "$prps" "$pp99" "$pcore" "$nrps" "$np99" "$ncore" "$ratio" "$core_ratio"
        if [ -n "${BASELINE:-}" ]; then
            orps=$(cut -d' ' -f1 "$WORK/o" | median); op99=$(cut -d' ' -f2 "$WORK/o" | median)
            ocore=$(cut -d' ' -f3 "$WORK/o" | median)
            printf '%-5s c=%-3s median: baseline %s rps (p99 %s ms, %s rps/core)  ratio to nginx %s, per core %s; new/baseline %s\n' \
                "$scenario" "$c" "$orps" "$op99" "$ocore" \
                "$(awk -v a="$orps" -v b="$nrps" 'BEGIN {printf "%.3f", a/b}')" \
                "$(awk -v a="$ocore" -v b="$ncore" 'BEGIN {printf "%.3f", (b > 0 ? a/b : 0)}')" \
                "$(awk -v a="$prps" -v b="$orps" 'BEGIN {printf "%.3f", a/b}')"
        fi
    done
done
