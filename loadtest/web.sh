#!/usr/bin/env bash
# Request validation and CORS under load. Bounded in time, loopback only.
#
#   loadtest/web.sh                        # 3 interleaved rounds of 10 s, c=50, both pairs
#   DURATION=5 ROUNDS=1 CONNS="50 256" PAIRS=cors loadtest/web.sh
#
# Two pairs of scenarios, each pair interleaved round by round:
# - validation: a 1 KB JSON POST proxied to nginx, on a REST route without validation
#   (`post`) and on the same route with the seed's signup model (`post_valid`: the body is
#   received whole, parsed and checked before it is forwarded). Target: ratio ≥ 0.9.
# - cors: a mock GET on an HTTP API without CORS (`get`) and on one with a `cors` table
#   (`get_cors`), every request carrying an allowed `Origin` (so the headers are written).
#   Target: ratio ≥ 0.97.
# One Portico worker pinned to CPU 1; wrk and nginx on CPU 0. Per run: req/s, p99 and req/s
# per proxy core (Portico's CPU time from /proc over the run); then medians and ratios. The cost
# of one check alone is `cargo bench --bench validate`.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-"50"}
PAIRS=${PAIRS:-"validation cors"}
PROXY_CPU=${PROXY_CPU:-1}
LOAD_CPU=${LOAD_CPU:-0}

. loadtest/lib.sh
install_missing wrk nginx
prepare web

UP_PORT=18490; PTC_PORT=18480; WEB_PORT=18481
start_upstream $UP_PORT '{"ok":true}'

cat > "$WORK/portico.toml" <<TOML
[server]
listen = ["127.0.0.1:$PTC_PORT"]
[workers]
count = 1
pin = true
cpus = [$PROXY_CPU]

[[api]]
name = "accounts"
protocol = "rest"
[[api.model]]
name = "Signup"
schema = '''{"\$schema":"http://json-schema.org/draft-04/schema#","type":"object","required":["name","email"],"properties":{"name":{"type":"string","minLength":1,"maxLength":64},"email":{"type":"string","format":"email"},"age":{"type":"integer","minimum":13,"maximum":120},"bio":{"type":"string","maxLength":2000},"tags":{"type":"array","items":{"type":"string","maxLength":32}}}}'''
[[api.stage]]
name = "prod"
[[api.route]]
key = "POST /post"
integration = { type = "http_proxy", uri = "http://127.0.0.1:$UP_PORT/signup" }
[[api.route]]
key = "POST /post_valid"
request_model = "Signup"
integration = { type = "http_proxy", uri = "http://127.0.0.1:$UP_PORT/signup" }
[[api.route]]
key = "GET /get"
integration = { type = "mock", body = "{\"id\":7}" }

[[api]]
name = "web"
listen = ["127.0.0.1:$WEB_PORT"]
cors = { allow_origins = ["https://app.example.com"], allow_methods = ["GET", "PUT"], allow_headers = ["content-type"], expose_headers = ["x-total"], allow_credentials = true }
[[api.stage]]
name = "prod"
[[api.route]]
key = "GET /get_cors"
integration = { type = "mock", body = "{\"id\":7}" }
TOML

# The seed's fields, a bio and tags: about 1 KB.
BIO=$(printf 'Mathematician and writer, chiefly known for work on the Analytical Engine. %.0s' $(seq 12))
BODY="{\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\",\"age\":36,\"bio\":\"$BIO\",\"tags\":[\"a\",\"b\",\"c\"]}"
cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$BODY'
LUA
echo "# POST body: ${#BODY} bytes"

scenario_url() {
    case $1 in
        get_cors) echo "http://127.0.0.1:$WEB_PORT/prod/get_cors" ;;
        *) echo "http://127.0.0.1:$PTC_PORT/prod/$1" ;;
    esac
}
for pair in $PAIRS; do
    case $pair in
        validation) SCENARIOS="post post_valid"; WRK_ARGS=(-s "$WORK/post.lua") ;;
        cors) SCENARIOS="get get_cors"; WRK_ARGS=(-H "Origin: https://app.example.com") ;;
        *) echo "unknown pair $pair" >&2; exit 2 ;;
    esac
    echo "## $pair"
    interleaved_scenarios scenario_url
done
