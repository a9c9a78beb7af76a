#!/usr/bin/env bash
# WebSocket APIs under load (issue 17). Bounded in time, loopback only.
#
#   loadtest/websocket.sh                       # echo: 5 interleaved rounds of 10 s; fan-out to 10,000
#   DURATION=5 ROUNDS=3 CONNS=64 FANOUT=2000 loadtest/websocket.sh
#   PARTS=echo loadtest/websocket.sh            # or PARTS=fanout
#
# - echo: CONNS clients (`ws_load`, std threads, on CPU 0) each send a 64-byte text message and
#   wait for a 64-byte answer, as fast as they can: against Portico (one worker pinned to CPU 1; a
#   `$default` route with a route response from a mock, so no backend is in the way) and against a
#   plain WebSocket echo server on monoio with the same codec (`ws_echo_server`, pinned to CPU 1).
#   Interleaved rounds; per run messages/s and messages/s per server core (CPU time from /proc);
#   medians and ratios. Target: ≥ 0.8.
# - fanout: FANOUT connections to a 2-worker Portico, each told its id by an nginx backend
#   (`context.connectionId` mapped to a header nginx returns), then one `@connections` push to
#   each, SigV4-signed, over 8 keep-alive management connections: the time to send them all and
#   until every client had its message (read one client after another, after the pushes).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-5}
CONNS=${CONNS:-32}
FANOUT=${FANOUT:-10000}
PARTS=${PARTS:-"echo fanout"}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}

. loadtest/lib.sh
install_missing nginx
prepare websocket
cargo build --release --quiet --examples
LOAD=target/release/examples/ws_load
ECHO=target/release/examples/ws_echo_server
ulimit -n "$(ulimit -Hn)"

PTC_PORT=18680; ECHO_PORT=18681; UP_PORT=18682
MESSAGE='{"action":"echo","data":"x"}'
REPLY=$(printf '%-64s' "$MESSAGE")

# One measured echo run of the server started by "$@" on port $1 → "rate rate_per_core".
measure_echo() {
    local port=$1; shift
    "$@" 2>>"$WORK/server.log" &
    local pid=$! before after out
    PIDS+=("$pid")
    wait_port "$port"
    before=$(cpu_ticks "$pid")
    out=$(taskset -c "$LOAD_CPU" "$LOAD" echo "127.0.0.1:$port" /prod "$CONNS" "$DURATION" 64 "$MESSAGE")
    after=$(cpu_ticks "$pid")
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    awk -v o="$out" -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" 'BEGIN {
        n = split(o, f, /[ =]/); for (i = 1; i < n; i += 2) v[f[i]] = f[i + 1];
        cores = t / hz / v["seconds"]; printf "%.0f %.0f\n", v["rate"], (cores > 0 ? v["rate"] / cores : 0) }'
}

if [[ " $PARTS " == *" echo "* ]]; then
    cat > "$WORK/echo.toml" <<TOML
[server]
listen = ["127.0.0.1:$PTC_PORT"]
[workers]
count = 1
pin = true
cpus = [$PROXY_CPU]
[throttle]
enabled = false
[[api]]
name = "echo"
protocol = "websocket"
[[api.stage]]
name = "prod"
[[api.route]]
key = "\$default"
route_response = true
integration = { type = "mock", body = '$REPLY' }
TOML
    echo "# echo $(date -u +%FT%TZ) $(uname -r) commit $(git rev-parse --short HEAD 2>/dev/null || echo none) duration=${DURATION}s rounds=$ROUNDS conns=$CONNS"
    : > "$WORK/portico"; : > "$WORK/plain"
    for r in $(seq "$ROUNDS"); do
        measure_echo "$PTC_PORT" env PORTICO_LOG=warn "$BIN" serve -c "$WORK/echo.toml" >> "$WORK/portico"
        measure_echo "$ECHO_PORT" taskset -c "$PROXY_CPU" "$ECHO" "127.0.0.1:$ECHO_PORT" >> "$WORK/plain"
        echo "  round $r | portico $(tail -1 "$WORK/portico" | awk '{printf "%s msg/s %s msg/s/core", $1, $2}') | plain $(tail -1 "$WORK/plain" | awk '{printf "%s msg/s %s msg/s/core", $1, $2}')"
    done
    p=$(cut -d' ' -f1 "$WORK/portico" | median); pc=$(cut -d' ' -f2 "$WORK/portico" | median)
    e=$(cut -d' ' -f1 "$WORK/plain" | median); ec=$(cut -d' ' -f2 "$WORK/plain" | median)
    ratios=$(paste -d' ' "$WORK/portico" "$WORK/plain" | awk '{printf "%.3f ", $1 / $3}')
    echo "median: portico $p msg/s ($pc per core), plain monoio echo $e msg/s ($ec per core); ratio $(awk -v a="$p" -v b="$e" 'BEGIN {printf "%.3f", a/b}') msg/s, $(awk -v a="$pc" -v b="$ec" 'BEGIN {printf "%.3f", a/b}') per core; per-round ratios: $ratios"
fi

if [[ " $PARTS " == *" fanout "* ]]; then
    # nginx answers with the connection id the route's mapping sends it (a variable in nginx's
    # quoted `return` text is interpolated).
    start_upstream "$UP_PORT" '$http_x_connection_id'
    cat > "$WORK/fanout.toml" <<TOML
[server]
listen = ["127.0.0.1:$PTC_PORT"]
backlog = 65535
[workers]
count = 2
[throttle]
enabled = false
[[iam_credential]]
access_key_id = "AKIDLOADTEST00000001"
secret_access_key_env = "PORTICO_LOAD_SECRET"
principal_arn = "arn:aws:iam::123456789012:user/pusher"
[[api]]
name = "fan"
protocol = "websocket"
websocket = { ping_interval_ms = 600000, idle_timeout_ms = 1200000 }
[[api.stage]]
name = "prod"
[[api.route]]
key = "\$default"
route_response = true
integration = { type = "http_proxy", uri = "http://127.0.0.1:$UP_PORT/id", request_parameters = { "integration.request.header.x-connection-id" = "context.connectionId" } }
TOML
    PORTICO_LOAD_SECRET=loadtestsecret PORTICO_LOG=warn "$BIN" serve -c "$WORK/fanout.toml" 2>>"$WORK/portico.log" &
    PID=$!
    wait_port "$PTC_PORT"
    echo "# fan-out $(date -u +%FT%TZ) commit $(git rev-parse --short HEAD 2>/dev/null || echo none) 2 workers"
    "$LOAD" fanout "127.0.0.1:$PTC_PORT" /prod "$FANOUT" AKIDLOADTEST00000001 loadtestsecret
fi
