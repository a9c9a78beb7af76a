# Helpers shared by the load-test scripts (sourced, not run). They expect DURATION and, for
# run_wrk, LOAD_CPU; WRK_ARGS adds wrk options (e.g. a header) to every run.

# Installs the Debian packages of the commands that are missing (nginx comes as nginx-light).
install_missing() {
    local pkgs=()
    for tool in "$@"; do
        command -v "$tool" >/dev/null 2>&1 && continue
        if [ "$tool" = nginx ]; then pkgs+=(nginx-light); else pkgs+=("$tool"); fi
    done
    if [ ${#pkgs[@]} -gt 0 ]; then
        apt-get update -qq && apt-get install -y -qq "${pkgs[@]}" >/dev/null
    fi
}

# Builds the release binary ($BIN) and makes a work folder ($WORK, named after $1) that is removed
# on exit, after the processes in PIDS (and PID, if set) are stopped. A script with more to clean
# up defines cleanup_more.
prepare() {
    cargo build --release --quiet
    BIN=target/release/portico
    WORK=$(mktemp -d "/tmp/portico-$1.XXXXXX")
    PIDS=()
    trap cleanup EXIT
}
cleanup() {
    local p
    for p in "${PIDS[@]}" ${PID:-}; do kill "$p" 2>/dev/null || true; done
    sleep 0.3
    if declare -F cleanup_more >/dev/null; then cleanup_more; fi
    rm -rf "$WORK"
}

# Starts the load tests' upstream: nginx with one worker pinned to LOAD_CPU on 127.0.0.1:$1,
# answering every request 200 with the JSON body $2 (keep-alive without a request limit, bodies
# up to 64 KiB read into memory). Waits until it listens.
start_upstream() {
    cat > "$WORK/upstream.conf" <<NGX
worker_processes 1;
daemon off;
pid $WORK/up.pid;
error_log $WORK/up.err warn;
events { worker_connections 8192; multi_accept on; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_buffer_size 64k;
    server { listen 127.0.0.1:$1 reuseport; location / { default_type application/json; return 200 '$2'; } }
}
NGX
    taskset -c "$LOAD_CPU" nginx -c "$WORK/upstream.conf" & PIDS+=($!)
    wait_port "$1"
}

# Waits (at most 10 s) until something listens on 127.0.0.1:$1.
wait_port() { for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null && return; sleep 0.1; done; }

# Runs a command (a wrk run) again, up to 3 times, when wrk could not make its first connection.
# Right after a gateway restart on the same port, a loopback SYN that meets an old TIME_WAIT pair
# is now and then answered with a reset; the gateway is listening (seen with `ss`).
retry_refused() {
    local out
    for _ in 1 2 3; do
        if out=$("$@" 2>&1); then echo "$out"; return 0; fi
        grep -q "unable to connect" <<<"$out" || { echo "$out"; return 1; }
        sleep 0.5
    done
    echo "$out"; return 1
}

WRK_ARGS=()
# wrk pinned to LOAD_CPU against $1 with $2 connections → "rps p99_ms"; errors go to stderr.
run_wrk() {
    local out rps p99 errs
    out=$(retry_refused taskset -c "$LOAD_CPU" wrk -t1 -c"$2" -d"${DURATION}s" --latency "${WRK_ARGS[@]}" "$1")
    rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub("us","",v); v=v/1000} else if (v ~ /ms$/) {sub("ms","",v)} else if (v ~ /s$/) {sub("s","",v); v=v*1000}; print v}' <<<"$out")
    errs=$(grep -E "Non-2xx|Socket errors" <<<"$out" || true)
    [ -n "$errs" ] && echo "    ($errs)" >&2
    echo "$rps $p99"
}

# The median of the numbers on stdin, one per line.
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }

# Calls the function named $1 (it prints a running count of admitted requests) now and then once
# a second for DURATION seconds. Sets WINDOWS (admitted per second, per window: the count's growth
# divided by the window's measured length) and FIRST, FIRST_T, LAST, LAST_T (the first and last
# counts and their times).
sample_windows() {
    local now now_t prev prev_t
    prev=$("$1"); prev_t=$(date +%s.%N); WINDOWS=()
    FIRST=$prev; FIRST_T=$prev_t
    for _ in $(seq "$DURATION"); do
        sleep 1
        now=$("$1"); now_t=$(date +%s.%N)
        WINDOWS+=("$(awk -v a="$now" -v b="$prev" -v t="$now_t" -v u="$prev_t" 'BEGIN {printf "%.0f", (a - b) / (t - u)}')")
        prev=$now; prev_t=$now_t
    done
    LAST=$prev; LAST_T=$prev_t
}

# The accuracy line from WINDOWS against rate $1 and burst $2. The first window also spends the
# full bucket (rate + burst is allowed); the last may include the end of the run. The steady
# windows between them are the accuracy.
print_accuracy() {
    printf '%s\n' "${WINDOWS[@]}" | head -n $((DURATION - 1)) | awk -v rate="$1" -v burst="$2" '
        NR == 1 {first = $1; next}
        {sum += $1; n++; if ($1 > max) max = $1}
        END {printf "accuracy: steady mean %.0f/s = %.4f of the rate; worst steady window %.0f/s = %.4f of the rate; first window %.0f/s (at most rate + burst = %d)\n",
             sum / n, sum / n / rate, max, max / rate, first, rate + burst}'
}

# User plus system CPU ticks of process $1 so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# One measured run of a fresh gateway on $WORK/portico.toml (listening on $PTC_PORT) against $1
# with $2 connections → "rps p99 rps_per_core". It is warmed with four requests first (curl with
# WRK_ARGS' headers), and its CPU time is read from /proc over the wrk run.
measure_gateway() {
    PORTICO_LOG=warn "$BIN" serve -c "$WORK/portico.toml" 2>>"$WORK/portico.log" &
    local pid=$! before after out
    PIDS+=("$pid")
    wait_port "$PTC_PORT"
    for _ in 1 2 3 4; do curl -sf "${WRK_ARGS[@]}" "$1" >/dev/null || true; done
    before=$(cpu_ticks "$pid")
    out=$(run_wrk "$1" "$2")
    after=$(cpu_ticks "$pid")
    kill -TERM "$pid"; wait "$pid" || true
    awk -v o="$out" -v t="$((after - before))" -v hz="$(getconf CLK_TCK)" -v d="$DURATION" 'BEGIN {
        split(o, f, " "); cores = t / hz / d; printf "%s %s %.0f\n", f[1], f[2], (cores > 0 ? f[1] / cores : 0) }'
}

# For each of CONNS: ROUNDS rounds, each running every scenario of SCENARIOS in turn with
# measure_gateway against the URL `$1 <scenario>` prints; then per scenario the medians and the
# ratios to the first scenario (req/s and req/s per proxy core).
interleaved_scenarios() {
    local url_of=$1 c r s line base base_core summary rps p99 core
    echo "# $(date -u +%FT%TZ) $(uname -r) commit $(git rev-parse --short HEAD 2>/dev/null || echo none) duration=${DURATION}s rounds=$ROUNDS"
    for c in $CONNS; do
        for s in $SCENARIOS; do : > "$WORK/$s"; done
        for r in $(seq "$ROUNDS"); do
            line="  c=$c round $r"
            for s in $SCENARIOS; do
                measure_gateway "$("$url_of" "$s")" "$c" >> "$WORK/$s"
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
}

# The mapping-template workload (templates.sh, instructions.sh): a REST API whose `POST
# /post/{id}` is proxied to the upstream on port $1 and whose `POST /post_mapped/{id}` is a
# non-proxy route with the seed's request template and a response template over the upstream's
# `{"ok":true,"id":"c-77"}`; then $WORK/post.lua, wrk's 1 KB JSON POST (its body in $BODY).
templates_api() {
    cat <<TOML
[[api]]
name = "shop"
protocol = "rest"
[[api.stage]]
name = "prod"
variables = { table = "orders" }
[[api.route]]
key = "POST /post/{id}"
integration = { type = "http_proxy", uri = "http://127.0.0.1:$1/customers/{id}" }
[[api.route]]
key = "POST /post_mapped/{id}"
[api.route.integration]
type = "http"
uri = "http://127.0.0.1:$1/customers/{id}"
[api.route.integration.request_templates]
"application/json" = '''
#set(\$inputRoot = \$input.path('\$'))
{
"customer_name": "\$inputRoot.name",
"customer_email": "\$inputRoot.email",
"request_id": "\$context.requestId"
}'''
[[api.route.integration.responses]]
status = 200
[api.route.integration.responses.templates]
"application/json" = '''
#set(\$r = \$input.path('\$'))
{"saved": \$r.ok, "id": "\$r.id", "table": "\$stageVariables.table", "customer": "\$input.params('id')"}'''
TOML
    local bio
    bio=$(printf 'Mathematician and writer, chiefly known for work on the Analytical Engine. %.0s' $(seq 12))
    BODY="{\"name\":\"Ada Lovelace\",\"email\":\"ada@example.com\",\"age\":36,\"bio\":\"$bio\",\"tags\":[\"a\",\"b\",\"c\"]}"
    cat > "$WORK/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '$BODY'
LUA
}
