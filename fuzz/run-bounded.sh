#!/usr/bin/env bash
# Runs every fuzz target for a bounded time on stable Rust (no sanitizers: `-s none`), seeded with
# fuzz/seeds/<target> (and, for the config target, the example configs). Used by .ci/run; a crash
# fails the run and leaves the input in fuzz/artifacts/<target>/.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-20}"
command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz
for target in request_head chunked body_reader response_head path observability function_result function_event jwt authorizer_answer sigv4 mapping schema vtl jsonpath websocket_frames fleet_messages config; do
  mkdir -p "corpus/$target"
  seeds="seeds/$target"
  [ "$target" = config ] && seeds="../configs"
  echo "fuzz: $target for ${seconds}s"
  log="$(mktemp)"
  status=0
  cargo fuzz run -s none "$target" "corpus/$target" "$seeds" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 >"$log" 2>&1 || status=$?
  # The whole log on failure (the crash and its input); the summary line otherwise.
  if [ "$status" -ne 0 ]; then cat "$log"; rm -f "$log"; exit "$status"; fi
  grep -E '^Done' "$log" || true
  rm -f "$log"
done
