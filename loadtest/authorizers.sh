#!/usr/bin/env bash
# Authorizers under load: the same mock route with no authorizer, with a JWT authorizer (RS256,
# keys from a loopback issuer: tests/fixtures/jwt_issuer.py), and with a cached function
# authorizer (its function an nginx answering an Allow policy). Bounded in time, loopback only.
#
#   loadtest/authorizers.sh                       # 3 interleaved rounds of 10 s, c=50
#   DURATION=5 ROUNDS=1 CONNS="50 256" loadtest/authorizers.sh none jwt
#
# One Portico worker pinned to CPU 1; wrk, nginx and the issuer on CPU 0. Every request of a run
# carries the same token, so the JWT authorizer verifies it once per worker and answers the rest
# from its verdict cache (decision 0010), and the function authorizer calls its function once.
# Per run: req/s, p99, and req/s per proxy core (Portico's CPU time from /proc over the run); then
# medians and each scenario's ratio to the first. The cost of one RS256 verification itself is
# `cargo bench --bench auth`.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-"50"}
SCENARIOS=${*:-"none jwt function"}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}

. loadtest/lib.sh
install_missing wrk nginx
python3 -c 'import jwt, cryptography' 2>/dev/null || python3 -m pip install --quiet 'pyjwt[crypto]>=2.10'
prepare authorizers

UP_PORT=18390; PTC_PORT=18380
POLICY='{"principalId":"bench","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":"*"}]},"context":{"tier":"gold"}}'
cat > "$WORK/upstream.conf" <<NGX
worker_processes 1;
daemon off;
pid $WORK/up.pid;
error_log $WORK/up.err warn;
events { worker_connections 1024; }
http {
    access_log off;
    server { listen 127.0.0.1:$UP_PORT; location / { default_type application/json; return 200 '$POLICY'; } }
}
NGX
taskset -c "$LOAD_CPU" nginx -c "$WORK/upstream.conf" & PIDS+=($!)
wait_port $UP_PORT

taskset -c "$LOAD_CPU" python3 -u tests/fixtures/jwt_issuer.py > "$WORK/issuer.out" & PIDS+=($!)
for _ in $(seq 100); do grep -q ready "$WORK/issuer.out" 2>/dev/null && break; sleep 0.1; done
ISSUER_PORT=$(awk '/ready/ {print $2}' "$WORK/issuer.out")
ISSUER="http://127.0.0.1:$ISSUER_PORT"
EXP=$(( $(date +%s) + 7200 ))
TOKEN=$(curl -sf -X POST "$ISSUER/mint" -d "{\"key\":\"rsa-1\",\"alg\":\"RS256\",\"claims\":{\"iss\":\"$ISSUER\",\"aud\":\"bench\",\"sub\":\"u1\",\"exp\":$EXP,\"scope\":\"read\"}}")

cat > "$WORK/portico.toml" <<TOML
[server]
listen = ["127.0.0.1:$PTC_PORT"]
[workers]
count = 1
pin = true
cpus = [$PROXY_CPU]
[[function]]
name = "authorize"
url = "http://127.0.0.1:$UP_PORT/"
[[api]]
name = "bench"
protocol = "rest"
[[api.authorizer]]
name = "jwt"
type = "jwt"
issuer = "$ISSUER"
audience = ["bench"]
[[api.authorizer]]
name = "function"
type = "function"
function = "authorize"
[[api.stage]]
name = "prod"
[[api.route]]
key = "GET /none/{id}"
integration = { type = "mock", body = "{\"id\":7}" }
[[api.route]]
key = "GET /jwt/{id}"
authorizer = "jwt"
authorization_scopes = ["read"]
integration = { type = "mock", body = "{\"id\":7}" }
[[api.route]]
key = "GET /function/{id}"
authorizer = "function"
integration = { type = "mock", body = "{\"id\":7}" }
TOML

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
WRK_ARGS=(-H "Authorization: Bearer $TOKEN")

# One measured run against $1 with $2 connections → "rps p99 rps_per_core".
measure() {
    PORTICO_LOG=warn "$BIN" serve -c "$WORK/portico.toml" 2>>"$WORK/portico.log" &
    local pid=$! before after out
    PIDS+=("$pid")
    wait_port $PTC_PORT
    # Warm: the keys fetched, the verdict and the authorizer's answer cached.
    for _ in 1 2 3 4; do curl -sf -H "Authorization: Bearer $TOKEN" "$1" >/dev/null || true; done
    before=$(cpu_ticks "$pid")
    out=$(run_wrk "$1" "$2")
    after=$(cpu_ticks "$pid")
    kill -TERM "$pid"; wait "$pid" || true
    awk -v o="$out" -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" -v d="$DURATION" 'BEGIN {
        split(o, f, " "); cores = t / hz / d; printf "%s %s %.0f\n", f[1], f[2], (cores > 0 ? f[1] / cores : 0) }'
}

echo "# $(date -u +%FT%TZ) $(uname -r) commit $(git rev-parse --short HEAD 2>/dev/null || echo none) duration=${DURATION}s rounds=$ROUNDS"
for c in $CONNS; do
    for s in $SCENARIOS; do : > "$WORK/$s"; done
    for r in $(seq "$ROUNDS"); do
        line="  c=$c round $r"
        for s in $SCENARIOS; do
            measure "http://127.0.0.1:$PTC_PORT/prod/$s/7" "$c" >> "$WORK/$s"
            line="$line | $s $(tail -1 "$WORK/$s" | awk '{printf "%s rps p99 %s ms %s rps/core", $1, $2, $3}')"
        done
        echo "$line"
    done
    base=""; base_core=""; summary="c=$c median:"
    for s in $SCENARIOS; do
        rps=$(cut -d' ' -f1 "$WORK/$s" | median); p99=$(cut -d' ' -f2 "$WORK/$s" | median)
        core=$(cut -d' ' -f3 "$WORK/$s" | median)
        [ -z "$base" ] && base=$rps && base_core=$core
        summary="$summary  $s $rps rps (p99 $p99 ms, ratio $(awk -v a="$rps" -v b="$base" 'BEGIN {printf "%.3f", a/b}'); $core rps/core, ratio $(awk -v a="$core" -v b="$base_core" 'BEGIN {printf "%.3f", (b > 0 ? a/b : 0)}'))"
    done
    echo "$summary"
done
