#!/usr/bin/env bash
# Delivery benchmark: Strom's origin vs nginx (and @fastify/static as the Node baseline) over the
# same packaged HLS ladder, driven by wrk. One run prepares (or reuses) the data, starts every
# server, verifies one segment per server, warms each up, measures, prints a table with ratios to
# nginx and writes bench/results/delivery-<timestamp>.json. Everything it starts is stopped on exit.
#
#   bench/delivery/run.sh
#
# Scenarios
#   a  random media segments, working set inside Strom's cache (cache = 2 × working set)
#   b  random media segments, working set 4 × Strom's cache (cache = working set / 4)
#   c  one small variant playlist (index.m3u8)
#
# Environment (defaults in brackets)
#   DURATION [10s]  WARMUP [3s]  CONNECTIONS [64]  THREADS [1]   wrk settings, identical for every server
#   ROUNDS [1]      repeat the whole matrix; the table shows the median round per cell
#   ASSETS [4]  ASSET_SECONDS [60]   data set size (3 rungs × 2 s segments of ~0.5 MB)
#   BENCH_DATA [bench/results/delivery-data]   where the assets live (reused when present)
#   SKIP_BUILD=1    do not run `npx tsc -p tsconfig.json` first
#   STROM_WORKERS=<n>  --set delivery.workers=<n> (default: unset = what `strom serve` does by default)
#   STROM_REF=<rev> benchmark that commit (git archive + tsc in the temp dir) instead of the working tree
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-1}
# The exact invocation, with the environment overrides that shaped it (for the report).
COMMAND_LINE=""
for v in ROUNDS DURATION WARMUP CONNECTIONS THREADS ASSETS ASSET_SECONDS BENCH_DATA SKIP_BUILD STROM_REF STROM_WORKERS; do
  [ -n "${!v+x}" ] && [ -n "$(printenv "$v" || true)" ] && COMMAND_LINE+="$v=$(printenv "$v") " || true
done
COMMAND_LINE+="bench/delivery/run.sh${*:+ $*}"

require nginx nginx-light
require wrk wrk
require curl curl
require sha256sum coreutils
[ -f "$DATA_DIR/bench-manifest.json" ] || require ffmpeg ffmpeg
command -v node >/dev/null || die "node (>= 20) is required"
[ -d "$ROOT/node_modules/@fastify/static" ] || die "@fastify/static is missing: run npm ci in $ROOT"

mkdir -p "$RESULTS_DIR"
UPTIME_START=$(uptime)
log "load at start: $UPTIME_START"
build_strom
strom_workers_setting
log "Strom delivery.workers: $STROM_WORKERS_EFFECTIVE (${STROM_WORKERS:+--set delivery.workers=$STROM_WORKERS}${STROM_WORKERS:-the strom serve default})"
prepare_data
CACHE_A=$((SEGMENT_BYTES * 2))
CACHE_B=$((SEGMENT_BYTES / 4))
log "data: $SEGMENT_COUNT segments, $SEGMENT_BYTES bytes (mean $MEAN_SEGMENT_BYTES B, $MIN_SEGMENT_BYTES–$MAX_SEGMENT_BYTES B); playlist $PLAYLIST_URL ($PLAYLIST_BYTES B)"
log "Strom cache: (a)/(c) $CACHE_A B (2 × working set), (b) $CACHE_B B (working set / 4)"

RUN_JSONL=$TMP_DIR/runs.jsonl
: >"$RUN_JSONL"

# measure ROUND SCENARIO SERVER BASE_URL LIST STROM_CACHE
measure() {
  local round=$1 scen=$2 srv=$3 base=$4 list=$5 cache=$6 out json load_before load_after
  run_wrk "$WARMUP" "$base" "$list" >/dev/null
  load_before=$(cut -d' ' -f1-3 /proc/loadavg)
  out=$(run_wrk "$DURATION" "$base" "$list")
  load_after=$(cut -d' ' -f1-3 /proc/loadavg)
  json=$(sed -n 's/^BENCH_JSON //p' <<<"$out")
  [ -n "$json" ] || { echo "$out" >&2; die "$scen/$srv: wrk printed no result"; }
  log "round $round ($scen) $(printf '%-15s' "$srv") $(grep -E 'Requests/sec|Transfer/sec' <<<"$out" | tr -s ' ' | tr '\n' ' ') load $load_after"
  printf '{"round":%d,"scenario":"%s","server":"%s","stromCacheBytes":%s,"loadBefore":"%s","loadAfter":"%s","wrk":%s}\n' \
    "$round" "$scen" "$srv" "${cache:-null}" "$load_before" "$load_after" "$json" >>"$RUN_JSONL"
}

start_nginx
verify nginx "$NGINX_URL"
start_fastify
verify fastify-static "$FASTIFY_URL"

for round in $(seq "$ROUNDS"); do
  # Alternate the server order between rounds so no server always runs first after a restart.
  if [ $((round % 2)) = 1 ]; then order="nginx strom fastify"; else order="fastify strom nginx"; fi

  start_strom "$CACHE_A"
  [ "$round" = 1 ] && verify "strom (cache $CACHE_A)" "$STROM_URL"
  for scen in a c; do
    list=$SEGMENT_LIST; [ "$scen" = c ] && list=$PLAYLIST_LIST
    for srv in $order; do
      case $srv in
        nginx) measure "$round" "$scen" nginx "$NGINX_URL" "$list" "" ;;
        strom) measure "$round" "$scen" strom "$STROM_URL" "$list" "$CACHE_A" ;;
        fastify) measure "$round" "$scen" fastify-static "$FASTIFY_URL" "$list" "" ;;
      esac
    done
  done
  stop_pid "$STROM_PID"

  start_strom "$CACHE_B"
  [ "$round" = 1 ] && verify "strom (cache $CACHE_B)" "$STROM_URL"
  for srv in $order; do
    case $srv in
      nginx) measure "$round" b nginx "$NGINX_URL" "$SEGMENT_LIST" "" ;;
      strom) measure "$round" b strom "$STROM_URL" "$SEGMENT_LIST" "$CACHE_B" ;;
    esac
  done
  stop_pid "$STROM_PID"
done

UPTIME_END=$(uptime)
log "load at end: $UPTIME_END"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
export DURATION WARMUP CONNECTIONS THREADS ROUNDS CACHE_A CACHE_B SEGMENT_COUNT SEGMENT_BYTES MEAN_SEGMENT_BYTES \
  MIN_SEGMENT_BYTES MAX_SEGMENT_BYTES STROM_WORKERS_EFFECTIVE PLAYLIST_URL PLAYLIST_BYTES BUILD_STATUS UPTIME_START UPTIME_END COMMAND_LINE DATA_DIR ROOT STROM_REF
node "$BENCH_DIR/report.mjs" "$RUN_JSONL" "$RESULTS_DIR/delivery-$STAMP.json"
