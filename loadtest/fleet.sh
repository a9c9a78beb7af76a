#!/usr/bin/env bash
# Fleet mode: two gateway nodes sharing one redis-server (all on loopback). Bounded in time.
#
#   loadtest/fleet.sh            # DURATION=10 RATE=5000 BURST=500 ROUNDS=3
#
# accuracy: nodes A and B (1 worker each) share a global route limit of RATE/s (one bucket in
#   Redis). One wrk per node (-t1 -c64) asks for far more. Both nodes' /metrics are scraped every
#   second; per window, admitted = Σ (requests − throttled) / window length. Printed: each
#   window, the steady mean and the worst relative to RATE, and what one node alone would allow.
# quota: the same two nodes, one API key with a fleet quota of QUOTA requests; wrk on both until it
#   is used up. Printed: requests admitted by both (must be exactly QUOTA) and Redis's count.
# cost: 1 pinned worker, mock route with an API key: no quota and a local limit, vs a fleet quota
#   and a global limit that are never hit (Redis stays off the request path).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
RATE=${RATE:-5000}
BURST=${BURST:-500}
QUOTA=${QUOTA:-200000}
ROUNDS=${ROUNDS:-3}

. loadtest/lib.sh
install_missing wrk redis-server
prepare fleet
REDIS=18390
KEY=fleet-load-key-0123456789abcdef

redis-server --port $REDIS --bind 127.0.0.1 --save "" --appendonly no --dir "$WORK" >/dev/null & PIDS+=($!)
wait_port $REDIS

node_conf() { # $1 file, $2 port, $3 admin, $4 workers section, $5 stage throttle, $6 cluster section
    cat > "$1" <<TOML
[server]
listen = ["127.0.0.1:$2"]
$4
[admin]
listen = "127.0.0.1:$3"
[throttle]
enabled = false
[quota]
state_file = "$1.quota.json"
$6
[[api]]
name = "t"
protocol = "rest"
[[api.stage]]
name = "s"
$5
[[api.route]]
key = "GET /x"
integration = { type = "mock", body = "x" }
[[api.route]]
key = "GET /k"
api_key_required = true
integration = { type = "mock", body = "k" }
[[api_key]]
name = "k"
value = "$KEY"
[[usage_plan]]
name = "p"
api_stages = [{ api = "t", stage = "s" }]
keys = ["k"]
quota = { limit = $QUOTA, period = "DAY" }
TOML
}
CLUSTER="[cluster]
redis = \"redis://127.0.0.1:$REDIS/0\"
prefix = \"load-$$\""
ONE="[workers]
count = 1"

echo "# $(date -u +%FT%TZ) $(uname -r) commit $(git rev-parse --short HEAD) rate=$RATE burst=$BURST quota=$QUOTA duration=${DURATION}s"
node_conf "$WORK/a.toml" 18301 18311 "$ONE" "route_throttle = { \"GET /x\" = { rate = $RATE, burst = $BURST, global = true } }" "$CLUSTER"
node_conf "$WORK/b.toml" 18302 18312 "$ONE" "route_throttle = { \"GET /x\" = { rate = $RATE, burst = $BURST, global = true } }" "$CLUSTER"
PORTICO_LOG=warn "$BIN" serve -c "$WORK/a.toml" & PIDS+=($!)
PORTICO_LOG=warn "$BIN" serve -c "$WORK/b.toml" & PIDS+=($!)
wait_port 18301; wait_port 18302

metric() { # $1 admin port, $2 route, $3 series
    curl -s "http://127.0.0.1:$1/metrics" | awk -v route="$2" -v series="$3" '
        index($0, series "{api=\"t\",stage=\"s\",route=\"" route "\"}") == 1 {v=$NF} END {printf "%d\n", v}'
}
# Requests minus 429s of GET /x on both nodes, each node's two numbers from one scrape (two scrapes
# would count the 429s of the time between them as admitted).
admitted() {
    local total=0 port
    for port in 18311 18312; do
        total=$((total + $(curl -s "http://127.0.0.1:$port/metrics" | awk '
            index($0, "portico_requests_total{api=\"t\",stage=\"s\",route=\"GET /x\"}") == 1 {r=$NF}
            index($0, "portico_requests_throttled_total{api=\"t\",stage=\"s\",route=\"GET /x\"}") == 1 {t=$NF}
            END {printf "%d\n", r - t}')))
    done
    echo $total
}
wrk -t1 -c64 -d"$((DURATION + 1))s" "http://127.0.0.1:18301/s/x" > "$WORK/wrk-a.txt" &
WA=$!
wrk -t1 -c64 -d"$((DURATION + 1))s" "http://127.0.0.1:18302/s/x" > "$WORK/wrk-b.txt" &
WB=$!
sample_windows admitted
wait $WA $WB
echo "admitted per second by both nodes, per window: ${WINDOWS[*]}"
# The whole run: scrape delays (the admin threads run at nice 10 on a saturated box) only blur its
# two ends, not every window edge.
awk -v a="$LAST" -v b="$FIRST" -v t="$LAST_T" -v u="$FIRST_T" -v rate="$RATE" -v burst="$BURST" 'BEGIN {
    T = t - u; printf "whole run: %d admitted in %.2f s = %.0f/s = %.4f of the rate; bound rate × (T + 0.1 s) + burst = %d\n",
    a - b, T, (a - b) / T, (a - b) / T / rate, rate * (T + 0.1) + burst}'
print_accuracy "$RATE" "$BURST"
echo "  (two separate buckets would allow $((2 * RATE))/s)"
for n in a b; do grep -E "Requests/sec" "$WORK/wrk-$n.txt" | sed "s/^/  wrk node $n: /"; done

# One quota for both nodes: ask for more than it holds.
wrk -t1 -c32 -d"${DURATION}s" -H "x-api-key: $KEY" "http://127.0.0.1:18301/s/k" > "$WORK/q-a.txt" &
WA=$!
wrk -t1 -c32 -d"${DURATION}s" -H "x-api-key: $KEY" "http://127.0.0.1:18302/s/k" > "$WORK/q-b.txt" &
WB=$!
wait $WA $WB
ok() { # $1 admin port
    echo $(( $(metric "$1" "GET /k" portico_requests_total) - $(metric "$1" "GET /k" portico_requests_4xx_total) ))
}
qa=$(ok 18311); qb=$(ok 18312)
used=$(curl -s "http://127.0.0.1:18311/usage?plan=p" | sed -E 's/.*"items":\{"k":\[\[([0-9]+),.*/\1/')
echo "quota: limit $QUOTA; admitted node A $qa + node B $qb = $((qa + qb)); Redis's count today: $used"
for p in "${PIDS[@]:1}"; do kill "$p"; done
wait "${PIDS[@]:1}" 2>/dev/null || true
PIDS=("${PIDS[0]}")

# The cost of fleet limits that are never hit, with the key's quota on every request.
PINNED="[workers]
count = 1
pin = true
cpus = [1]"
node_conf "$WORK/local.toml" 18301 18311 "$PINNED" "throttle = { rate = 1000000000, burst = 1000000000 }" ""
sed -i 's/^quota = .*//' "$WORK/local.toml"
QUOTA=1000000000000 node_conf "$WORK/fleet.toml" 18301 18311 "$PINNED" \
    "throttle = { rate = 1000000000, burst = 1000000000, global = true }" "$CLUSTER"
LOAD_CPU=0
WRK_ARGS=(-H "x-api-key: $KEY")
run() {
    PORTICO_LOG=warn "$BIN" serve -c "$WORK/$1.toml" & local pid=$!
    wait_port 18301
    run_wrk "http://127.0.0.1:18301/s/k" 50 | awk '{print $1}'
    kill "$pid"; wait "$pid" 2>/dev/null || true
}
: > "$WORK/off"; : > "$WORK/on"
for r in $(seq "$ROUNDS"); do
    run local >> "$WORK/off"; run fleet >> "$WORK/on"
    echo "  round $r: local limit, no quota $(tail -1 "$WORK/off") rps | global limit + fleet quota $(tail -1 "$WORK/on") rps"
done
off=$(median < "$WORK/off"); on=$(median < "$WORK/on")
awk -v a="$on" -v b="$off" 'BEGIN {printf "cost: median local %.0f rps, fleet %.0f rps, ratio %.3f\n", b, a, a / b}'
