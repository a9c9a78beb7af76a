#!/usr/bin/env bash
# Mapping templates under load: a non-proxy HTTP route with a request and a response template
# against the plain proxy of the same request. Bounded in time, loopback only.
#
#   loadtest/templates.sh                  # 3 interleaved rounds of 10 s, c=50
#   DURATION=5 ROUNDS=1 CONNS="50 256" loadtest/templates.sh
#
# Scenarios, interleaved round by round:
# - `post`: a 1 KB JSON POST on a REST route proxied to nginx (`http_proxy`);
# - `post_mapped`: the same POST on a `type = "http"` route: the seed's request template
#   (`$input.path('$')`, three fields, `$context.requestId`), then a response template over
#   nginx's answer (`$input.path('$')`, a stage variable, a path parameter).
# Target: ratio ≥ 0.85. One Portico worker pinned to CPU 1; wrk and nginx on CPU 0. Per run:
# req/s, p99 and req/s per proxy core (Portico's CPU time from /proc); then medians and ratios.
# The cost of one render alone is `cargo bench --bench vtl`.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-"50"}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}

. loadtest/lib.sh
install_missing wrk nginx
prepare templates

UP_PORT=18590; PTC_PORT=18580
start_upstream $UP_PORT '{"ok":true,"id":"c-77"}'

cat > "$WORK/portico.toml" <<TOML
[server]
listen = ["127.0.0.1:$PTC_PORT"]
[workers]
count = 1
pin = true
cpus = [$PROXY_CPU]

TOML
templates_api $UP_PORT >> "$WORK/portico.toml"
echo "# POST body: ${#BODY} bytes"

scenario_url() { echo "http://127.0.0.1:$PTC_PORT/prod/$1/42"; }
SCENARIOS="post post_mapped"; WRK_ARGS=(-s "$WORK/post.lua")
interleaved_scenarios scenario_url
