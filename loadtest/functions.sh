#!/usr/bin/env bash
# Function integrations under load: a function on an HTTP-endpoint target vs the plain HTTP proxy
# integration to the same server, and a warm local handler (awslambdaric, Runtime API). Bounded in
# time, loopback only.
#
#   loadtest/functions.sh                          # 3 interleaved rounds of 10 s, c=50
#   DURATION=5 ROUNDS=1 CONNS="50 256" loadtest/functions.sh proxy function
#
# One Portico worker pinned to CPU 1; wrk and the server (nginx, `return 200` with a Lambda proxy
# answer, `{"statusCode":200,...}`) on CPU 0. "proxy" relays that JSON as it is; "function" POSTs
# the 2.0 event of each request to the same nginx and reads its answer as a Lambda proxy result
# (the client gets the body). "local" invokes a Python handler kept warm by Portico (processes on
# CPU 0 with the load). Each round runs every scenario in turn on a fresh gateway; per run: req/s,
# p99, and req/s per proxy core (Portico's CPU time from /proc over the run); then the medians
# and each scenario's ratio to the first.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-"50"}
SCENARIOS=${*:-"proxy function local"}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}
PROCESSES=${PROCESSES:-2}

. loadtest/lib.sh
install_missing wrk nginx
python3 -c 'import awslambdaric' 2>/dev/null || python3 -m pip install --quiet awslambdaric
prepare functions

UP_PORT=18290; PTC_PORT=18280
ANSWER='{"statusCode":200,"headers":{"content-type":"application/json"},"body":"{\\"id\\":7,\\"type\\":\\"fish\\",\\"price\\":0.99}"}'
cat > "$WORK/app.py" <<'PY'
import json
BODY = json.dumps({"id": 7, "type": "fish", "price": 0.99})
def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"}, "body": BODY}
PY
cat > "$WORK/portico.toml" <<TOML
[server]
listen = ["127.0.0.1:$PTC_PORT"]
[workers]
count = 1
pin = true
cpus = [$PROXY_CPU]
[[function]]
name = "endpoint"
url = "http://127.0.0.1:$UP_PORT/invoke"
[[function]]
name = "local"
command = ["taskset", "-c", "$LOAD_CPU", "python3", "-m", "awslambdaric", "app.handler"]
working_dir = "$WORK"
concurrency = $PROCESSES
queue_timeout_ms = 10000
[[api]]
name = "bench"
[[api.stage]]
name = "\$default"
[[api.route]]
key = "GET /proxy/{id}"
integration = { type = "http_proxy", uri = "http://127.0.0.1:$UP_PORT/pets/{id}" }
[[api.route]]
key = "GET /function/{id}"
integration = { type = "function", target = "endpoint" }
[[api.route]]
key = "GET /local/{id}"
integration = { type = "function", target = "local" }
TOML

start_upstream $UP_PORT "$ANSWER"

scenario_url() { echo "http://127.0.0.1:$PTC_PORT/$1/7"; }
interleaved_scenarios scenario_url
