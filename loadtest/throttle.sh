#!/usr/bin/env bash
# Throttling: accuracy of the admitted rate at 2 workers, and the cost of a limit that is never hit.
# Bounded in time, loopback only.
#
#   loadtest/throttle.sh            # DURATION=10 RATE=20000 BURST=2000
#
# accuracy: 2 workers (not pinned), one route limited to RATE/s with BURST; wrk (-t2 -c128) asks for
#   far more. /metrics is scraped every second; per window, admitted = requests − throttled, divided
#   by the window's measured length. Printed: each window, the mean and the worst relative to RATE.
# cost: 1 pinned worker, mock route, throttling off vs a stage and gateway limit of 1e9/s (never hit).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
RATE=${RATE:-20000}
BURST=${BURST:-2000}
ROUNDS=${ROUNDS:-3}

. loadtest/lib.sh
install_missing wrk
prepare throttle
PID=""
PORT=18280; ADMIN=18281

cat > "$WORK/accuracy.toml" <<TOML
[server]
listen = ["127.0.0.1:$PORT"]
workers = 2
[admin]
listen = "127.0.0.1:$ADMIN"
[throttle]
enabled = false
[[api]]
name = "t"
[[api.stage]]
name = "\$default"
throttle = { rate = $RATE, burst = $BURST }
[[api.route]]
key = "GET /x"
integration = { type = "mock", body = "x" }
TOML

echo "# $(date -u +%FT%TZ) $(uname -r) commit $(git rev-parse --short HEAD) rate=$RATE burst=$BURST duration=${DURATION}s"
PORTICO_LOG=warn "$BIN" serve -c "$WORK/accuracy.toml" & PID=$!
wait_port $PORT
admitted() {
    curl -s "http://127.0.0.1:$ADMIN/metrics" | awk '
        /^portico_requests_total\{api="t",stage="\$default",route="GET \/x"\}/ {r=$NF}
        /^portico_requests_throttled_total\{api="t",stage="\$default",route="GET \/x"\}/ {t=$NF}
        END {printf "%d\n", r - t}'
}
wrk -t2 -c128 -d"$((DURATION + 1))s" "http://127.0.0.1:$PORT/x" > "$WORK/wrk.txt" &
WRK=$!
sample_windows admitted
wait $WRK
kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
echo "admitted per second, per window: ${WINDOWS[*]}"
print_accuracy "$RATE" "$BURST"
grep -E "Requests/sec|Non-2xx" "$WORK/wrk.txt" | sed 's/^/  wrk: /'

# The cost of a limit never hit.
conf() { # $1 name, $2 extra stage line, $3 throttle section
    cat > "$WORK/$1.toml" <<TOML
[server]
listen = ["127.0.0.1:$PORT"]
[workers]
count = 1
pin = true
cpus = [1]
$3
[[api]]
name = "t"
[[api.stage]]
name = "\$default"
$2
[[api.route]]
key = "GET /x"
integration = { type = "mock", body = "x" }
TOML
}
conf off "" "[throttle]
enabled = false"
conf never_hit "throttle = { rate = 1000000000, burst = 1000000000 }" "[throttle]
rate = 1000000000
burst = 1000000000"
run() {
    PORTICO_LOG=warn "$BIN" serve -c "$WORK/$1.toml" & PID=$!
    wait_port $PORT
    retry_refused taskset -c 0 wrk -t1 -c50 -d"${DURATION}s" "http://127.0.0.1:$PORT/x" | awk '/Requests\/sec/ {print $2}'
    kill "$PID"; wait "$PID" 2>/dev/null || true; PID=""
}
: > "$WORK/off"; : > "$WORK/on"
for r in $(seq "$ROUNDS"); do
    run off >> "$WORK/off"; run never_hit >> "$WORK/on"
    echo "  round $r: off $(tail -1 "$WORK/off") rps | never-hit limit $(tail -1 "$WORK/on") rps"
done
off=$(median < "$WORK/off"); on=$(median < "$WORK/on")
awk -v a="$on" -v b="$off" 'BEGIN {printf "cost: median off %.0f rps, never-hit limit %.0f rps, ratio %.3f\n", b, a, a / b}'
