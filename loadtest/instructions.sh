#!/usr/bin/env bash
# User-space instructions per request, counted by callgrind: deterministic where the wall-clock
# load tests (run.sh) are noisy, so a per-request cost of a few percent shows up reliably. It
# counts what the process executes outside the kernel (syscalls are the same count of calls, not
# their cost), on the epoll driver (valgrind does not know io_uring).
#
#   loadtest/instructions.sh                      # this tree's release binary
#   loadtest/instructions.sh /path/to/old/portico # and an older one, same config and load
#   KEEP=/tmp/cg loadtest/instructions.sh ...       # keep the dumps: callgrind_annotate FILE
#
# Per binary and scenario: Portico under callgrind with one worker; wrk warms it up (2 s), the
# counters are zeroed, wrk runs DURATION seconds (default 8) at 50 connections, the counters are
# dumped; instructions / requests wrk completed. Scenarios: proxy (GET /pets/7 to an nginx
# upstream, `return 200`), mock, cache (hits of a cached stage, warmed by the warm-up), function (a
# function on an HTTP-endpoint target, the same nginx answering a Lambda proxy result); SCENARIOS
# picks some: also `post` (a 1 KB JSON POST proxied) and `templates` (the same POST on a non-proxy
# route with a request and a response template: `SCENARIOS="post templates"`).
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-8}
LOAD_CPU=${LOAD_CPU:-0}
. loadtest/lib.sh
install_missing wrk nginx valgrind
prepare instructions

UP_PORT=18390; PORT=18380
cat > "$WORK/up.conf" <<NGX
worker_processes 1;
daemon off;
pid $WORK/up.pid;
error_log $WORK/up.err warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:$UP_PORT;
        location / { return 200 '{"id":7,"type":"fish","price":0.99}'; }
        location /customers/ { return 200 '{"ok":true,"id":"c-77"}'; }
        location /invoke { return 200 '{"statusCode":200,"body":"id 7, type fish, price 0.99"}'; }
    }
}
NGX
nginx -c "$WORK/up.conf" & PIDS+=($!)
wait_port "$UP_PORT"
cat > "$WORK/portico.toml" <<TOML
[server]
listen = ["127.0.0.1:$PORT"]
workers = 1

[[api]]
name = "pets"
[[api.stage]]
name = "\$default"
[[api.stage]]
name = "cached"
cache = { capacity_mb = 16, ttl_s = 300, status_header = false }
[[api.route]]
key = "GET /pets/{id}"
integration = { type = "http_proxy", uri = "http://127.0.0.1:$UP_PORT/pets/{id}" }
[[api.route]]
key = "GET /ping"
integration = { type = "mock", body = "{\"ok\":true}" }
TOML
# The templates scenario's config: a REST API with a non-proxy route (the seed's request
# template, a response template, as loadtest/templates.sh) and its proxied twin (`post`).
cat > "$WORK/portico-vtl.toml" <<TOML
[server]
listen = ["127.0.0.1:$PORT"]
workers = 1

TOML
templates_api $UP_PORT >> "$WORK/portico-vtl.toml"
# The function scenario's config: the same, plus a function route (older binaries, which know no
# functions, are measured on the others only).
cat "$WORK/portico.toml" - > "$WORK/portico-fn.toml" <<TOML
[[api.route]]
key = "GET /fn/{id}"
integration = { type = "function", target = "endpoint" }
[[function]]
name = "endpoint"
url = "http://127.0.0.1:$UP_PORT/invoke"
TOML

for bin in "$BIN" "$@"; do
    for scenario in ${SCENARIOS:-proxy mock cache function}; do
        config=portico.toml
        case $scenario in
            proxy) path=/pets/7 ;; mock) path=/ping ;; cache) path=/cached/pets/7 ;;
            function) path=/fn/7; config=portico-fn.toml ;;
            post) path=/prod/post/7; config=portico-vtl.toml ;;
            templates) path=/prod/post_mapped/7; config=portico-vtl.toml ;;
        esac
        script=()
        case $scenario in post | templates) script=(-s "$WORK/post.lua") ;; esac
        MONOIO_FORCE_LEGACY_DRIVER=1 PORTICO_LOG=warn valgrind --tool=callgrind \
            --callgrind-out-file="$WORK/cg.%p" "$bin" serve -c "$WORK/$config" 2>"$WORK/vg.log" &
        VG=$!
        wait_port "$PORT"
        taskset -c "$LOAD_CPU" wrk -t1 -c50 -d2s "${script[@]}" "http://127.0.0.1:$PORT$path" >/dev/null
        callgrind_control -z "$VG" >/dev/null
        out=$(taskset -c "$LOAD_CPU" wrk -t1 -c50 -d"${DURATION}s" "${script[@]}" "http://127.0.0.1:$PORT$path")
        callgrind_control -d "$VG" >/dev/null
        requests=$(awk '/requests in/ {print $1}' <<<"$out")
        kill "$VG"; wait "$VG" 2>/dev/null || true
        # The dump after zeroing holds only the measured run; sum its threads' totals.
        instructions=$(cat "$WORK"/cg.*.* 2>/dev/null | awk '/^totals:/ {s += $2} END {print s + 0}')
        # KEEP=dir keeps each dump for callgrind_annotate, named after the scenario and binary.
        if [ -n "${KEEP:-}" ]; then
            mkdir -p "$KEEP"; cat "$WORK"/cg.*.* > "$KEEP/$scenario-$(echo "$bin" | tr / _).cg"
        fi
        rm -f "$WORK"/cg.*
        printf '%-8s %-40s %8s requests %14s instructions %8.0f per request\n' \
            "$scenario" "$bin" "$requests" "$instructions" "$(awk -v i="$instructions" -v r="$requests" 'BEGIN {print i / r}')"
    done
done
