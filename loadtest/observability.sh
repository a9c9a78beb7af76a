#!/usr/bin/env bash
# The cost of observability: Portico with metrics and access logs off vs on, same box, same load.
# Bounded in time, loopback only.
#
#   loadtest/observability.sh                     # 3 interleaved rounds of 10 s, c=50 and c=256
#   DURATION=5 ROUNDS=1 loadtest/observability.sh mock
#
# "off": no [admin] (nothing counted) and no access log. "on": [admin] (every request counted in the
# worker's shard), an access log per request (AWS's JSON preset) to a file, and /metrics scraped
# every second while wrk runs. MODES="off metrics on" adds a run with metrics but no access log.
# One Portico worker pinned to CPU 1; wrk and the upstream (nginx, `return 200`) on CPU 0. Each round
# runs every mode in turn; the medians and each mode's ratio to the first are printed.
#
# Scenarios: proxy (GET /pets/7 to the upstream), mock (mock integration).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-"50 256"}
SCENARIOS=${*:-"proxy mock"}
# off = nothing counted or logged; metrics = [admin] only; on = [admin] and a JSON access log.
MODES=${MODES:-"off on"}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}

. loadtest/lib.sh
install_missing wrk nginx
prepare observe

UP_PORT=18190; PTC_PORT=18180; ADMIN_PORT=18181

portico_conf() { # $1 = off|metrics|on
    local admin="" log=""
    if [ "$1" = metrics ]; then
        admin="[admin]
listen = \"127.0.0.1:$ADMIN_PORT\""
    fi
    if [ "$1" = on ]; then
        admin="[admin]
listen = \"127.0.0.1:$ADMIN_PORT\""
        log="access_log = { destination = \"$WORK/access.log\", format = \"json\" }"
    fi
    cat > "$WORK/$1.toml" <<TOML
[server]
listen = ["127.0.0.1:$PTC_PORT"]
[workers]
count = 1
pin = true
cpus = [$PROXY_CPU]
$admin
[throttle]
enabled = false
[[api]]
name = "bench"
[[api.stage]]
name = "\$default"
variables = { backend = "127.0.0.1:$UP_PORT" }
$log
[[api.route]]
key = "GET /pets/{id}"
integration = { type = "http_proxy", uri = "http://\${stageVariables.backend}/pets/{id}" }
[[api.route]]
key = "GET /ping"
integration = { type = "mock", body = '{"pong":true}' }
TOML
}
portico_conf off
portico_conf metrics
portico_conf on

start_upstream $UP_PORT '{"id":7,"type":"fish","price":0.99}'


# One measured run of Portico in mode $1 against $2 with $3 connections.
measure() {
    PORTICO_LOG=warn "$BIN" serve -c "$WORK/$1.toml" 2>>"$WORK/portico.log" &
    local pid=$! scraper=""
    PIDS+=("$pid")
    wait_port $PTC_PORT
    curl -sf "http://127.0.0.1:$PTC_PORT/pets/7" >/dev/null
    if [ "$1" != off ]; then
        ( end=$((SECONDS + DURATION)); while [ $SECONDS -lt $end ]; do
            taskset -c "$LOAD_CPU" curl -sf "http://127.0.0.1:$ADMIN_PORT/metrics" >/dev/null || true; sleep 1; done ) &
        scraper=$!
    fi
    run_wrk "$2" "$3"
    [ -n "$scraper" ] && wait "$scraper" || true
    kill -TERM "$pid"; wait "$pid" || true
    rm -f "$WORK/access.log"
}

echo "# $(date -u +%FT%TZ) $(uname -r) commit $(git rev-parse --short HEAD 2>/dev/null || echo none) duration=${DURATION}s rounds=$ROUNDS"
for scenario in $SCENARIOS; do
    case $scenario in
        proxy) URL="http://127.0.0.1:$PTC_PORT/pets/7" ;;
        mock)  URL="http://127.0.0.1:$PTC_PORT/ping" ;;
        *) echo "unknown scenario $scenario" >&2; exit 2 ;;
    esac
    for c in $CONNS; do
        for m in $MODES; do : > "$WORK/$m"; done
        for r in $(seq "$ROUNDS"); do
            line="  $scenario c=$c round $r"
            for m in $MODES; do
                measure "$m" "$URL" "$c" >> "$WORK/$m"
                line="$line | $m $(tail -1 "$WORK/$m" | awk '{printf "%s rps p99 %s ms", $1, $2}')"
            done
            echo "$line"
        done
        base=""; summary="$scenario c=$c median:"
        for m in $MODES; do
            rps=$(cut -d' ' -f1 "$WORK/$m" | median); p99=$(cut -d' ' -f2 "$WORK/$m" | median)
            [ -z "$base" ] && base=$rps
            ratio=$(awk -v a="$rps" -v b="$base" 'BEGIN {printf "%.3f", a/b}')
            summary="$summary  $m $rps rps (p99 $p99 ms, ratio $ratio)"
        done
        echo "$summary"
    done
done
