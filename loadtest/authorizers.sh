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
start_upstream $UP_PORT "$POLICY"

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

WRK_ARGS=(-H "Authorization: Bearer $TOKEN")
scenario_url() { echo "http://127.0.0.1:$PTC_PORT/prod/$1/7"; }
interleaved_scenarios scenario_url
