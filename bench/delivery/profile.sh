#!/usr/bin/env bash
# CPU-profile Strom under the delivery benchmark's load: scenarios (a) random cached segments and
# (c) one small playlist, each in its own Strom process started with `node --cpu-prof`, then
# summarised by cpuprofile-summary.mjs. Profiles land in bench/results/profiles/<timestamp>/.
# The profile includes start-up and the warm-up pass (a few % of samples).
#
#   bench/delivery/profile.sh            (DURATION [10s] WARMUP [3s] CONNECTIONS [64] THREADS [1] SKIP_BUILD)
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
require wrk wrk
require curl curl
[ -f "$DATA_DIR/bench-manifest.json" ] || require ffmpeg ffmpeg
build_strom
prepare_data
CACHE=$((SEGMENT_BYTES * 2))
OUT=$RESULTS_DIR/profiles/$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$OUT"
log "load: $(uptime)"

for scen in a c; do
  list=$SEGMENT_LIST; [ "$scen" = c ] && list=$PLAYLIST_LIST
  start_strom "$CACHE" --cpu-prof --cpu-prof-dir="$OUT" --cpu-prof-name="strom-$scen.cpuprofile"
  run_wrk "$WARMUP" "$STROM_URL" "$list" >/dev/null
  run_wrk "$DURATION" "$STROM_URL" "$list" | grep -E 'Requests/sec|Transfer/sec|Latency' >&2
  stop_pid "$STROM_PID"   # SIGTERM → graceful close → process.exit → profile written
  [ -f "$OUT/strom-$scen.cpuprofile" ] || die "no profile written for ($scen)"
  echo "=== scenario ($scen) ==="
  node "$BENCH_DIR/cpuprofile-summary.mjs" "$OUT/strom-$scen.cpuprofile" 25 | tee "$OUT/strom-$scen.txt"
done
log "load: $(uptime)"
log "profiles and summaries in $OUT"
