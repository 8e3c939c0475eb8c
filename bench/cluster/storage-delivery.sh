#!/usr/bin/env bash
# Delivery from object storage vs the file system, in one run (docs/BENCHMARKS.md "Delivery from
# object storage"). The packaged HLS ladder of bench/delivery (prepared or reused) is published to
# a private s3rver through the AWS SDK; one Strom serves it from disk (storage.kind=fs, the data
# directory), another from the bucket (storage.kind=s3, its own empty data directory). Both get the
# same hot-cache budget — 1.25 × the working set per process (the budget is split between the main
# and its delivery workers), so every object is cached once warm — are warmed by reading every path
# once per process, and are then driven by wrk alternately:
#   hot-a  random media segments, all cached        target: s3 ≥ 0.9 × fs
#   hot-c  one small variant playlist               target: s3 ≥ 0.9 × fs
# Then a fresh s3 Strom (empty caches) answers cold first requests, each compared with a direct
# GetObject of the same object through the AWS SDK against the same s3rver (time to first byte,
# alternating which goes first). Prints a table, writes bench/results/storage-delivery-<stamp>.json.
# With BASELINE_REF=<rev>, that commit's build serves the disk too (fs-base), so the table also
# shows whether the file-system path of this tree is slower than before (target fs/fs-base ≥ 0.95).
#
#   bench/cluster/storage-delivery.sh
#
# Environment: DURATION [10s] WARMUP [3s] CONNECTIONS [64] THREADS [1] ROUNDS [3] COLD [60]
#   BASELINE_REF [none]
#   STROM_WORKERS, SKIP_BUILD, STROM_REF, ASSETS, ASSET_SECONDS, BENCH_DATA as bench/delivery/run.sh.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/../delivery/lib.sh"
cd "$ROOT" # node --import tsx resolves tsx from here

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-3s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
ROUNDS=${ROUNDS:-3}
COLD=${COLD:-60}
COMMAND_LINE=""
for v in ROUNDS DURATION WARMUP CONNECTIONS THREADS COLD BASELINE_REF ASSETS ASSET_SECONDS BENCH_DATA SKIP_BUILD STROM_REF STROM_WORKERS; do
  [ -n "${!v+x}" ] && [ -n "$(printenv "$v" || true)" ] && COMMAND_LINE+="$v=$(printenv "$v") " || true
done
COMMAND_LINE+="bench/cluster/storage-delivery.sh"

require wrk wrk
require curl curl
require sha256sum coreutils
[ -f "$DATA_DIR/bench-manifest.json" ] || require ffmpeg ffmpeg
mkdir -p "$RESULTS_DIR"
UPTIME_START=$(uptime)
log "load at start: $UPTIME_START"
build_strom
strom_workers_setting
BASE_MAIN=""
if [ -n "${BASELINE_REF:-}" ]; then
  base_src=$TMP_DIR/baseline-src
  mkdir -p "$base_src"
  log "building the baseline $BASELINE_REF ($(git -C "$ROOT" rev-parse --short "$BASELINE_REF")) in $base_src"
  git -C "$ROOT" archive "$BASELINE_REF" src tsconfig.json package.json | tar -x -C "$base_src" || die "git archive $BASELINE_REF failed"
  ln -s "$ROOT/node_modules" "$base_src/node_modules"
  (cd "$base_src" && npx tsc -p tsconfig.json >"$TMP_DIR/tsc-base.log" 2>&1) || { cat "$TMP_DIR/tsc-base.log" >&2; die "tsc failed for $BASELINE_REF"; }
  BASE_MAIN=$base_src/dist/main.js
fi
prepare_data
# Whole working set in every process's share (at exactly one working set per process, admission
# churn at the edge makes some requests misses, which cost a bucket GET instead of a local read).
CACHE=$((SEGMENT_BYTES * (STROM_WORKERS_EFFECTIVE + 1) * 5 / 4))
log "data: $SEGMENT_COUNT segments, $SEGMENT_BYTES bytes; Strom cache $CACHE B; delivery.workers $STROM_WORKERS_EFFECTIVE"

# s3rver in its own process, the assets published to it.
S3_PORT=$(free_port)
S3_URL=http://127.0.0.1:$S3_PORT
start_bg s3rver node --import tsx "$HERE/storage-bench.mts" s3rver "$TMP_DIR/s3rver" "$S3_PORT"
S3RVER_PID=$BG_PID
for _ in $(seq 100); do curl -s -o /dev/null "$S3_URL/" && break; sleep 0.1; done
log "publishing the assets to $S3_URL (bucket strom)"
(cd "$ROOT" && npx tsx "$HERE/storage-bench.mts" publish "$S3_URL" "$DATA_DIR") || die "publishing to s3rver failed"
S3_FLAGS=(--set storage.kind=s3 --set "storage.s3.endpoint=$S3_URL" --set storage.s3.bucket=strom --set storage.s3.accessKeyId=S3RVER
  --set storage.s3.secretAccessKey=S3RVER --set storage.s3.forcePathStyle=true)

# start_node NAME DATA_DIR [strom flags...]: sets NODE_PID and NODE_URL (delivery workers ready); MAIN overrides the build.
start_node() {
  local name=$1 data=$2 main=${MAIN:-$STROM_MAIN}; shift 2
  local port; port=$(free_port)
  STROM_RTMP_ENABLED=false STROM_RTMP_PORT=0 STROM_RATE_LIMIT_MEDIA_PER_MINUTE=1000000000 \
    start_bg "strom-$name-$port" node "$main" serve --host 127.0.0.1 --port "$port" --data "$data" \
    --set logLevel=warn --set "delivery.cacheBytes=$CACHE" ${STROM_WORKERS:+--set "delivery.workers=$STROM_WORKERS"} "$@"
  NODE_PID=$BG_PID
  NODE_URL=http://127.0.0.1:$port
  wait_http "$NODE_URL$PLAYLIST_URL" 30 "$NODE_PID" || { cat "$TMP_DIR/strom-$name-$port.log" >&2; die "Strom ($name) did not start"; }
  if [ "${STROM_WORKERS_EFFECTIVE:-0}" -gt 0 ]; then
    for _ in $(seq 300); do curl -s "$NODE_URL/metrics" | grep -qx "strom_delivery_workers $STROM_WORKERS_EFFECTIVE" && return 0; sleep 0.1; done
    die "Strom ($name): delivery workers did not become ready"
  fi
}

# warm URL: read every segment and the playlist once per process (fresh connections: main and workers in turn).
warm() {
  local base=$1 p i
  for i in $(seq $((STROM_WORKERS_EFFECTIVE + 1))); do
    while read -r p; do curl -s -o /dev/null "$base$p"; done <"$SEGMENT_LIST"
    curl -s -o /dev/null "$base$PLAYLIST_URL"
  done
}

RUN_JSONL=$TMP_DIR/runs.jsonl
: >"$RUN_JSONL"
# cpu_ticks PID: user + system clock ticks of PID and its children (the delivery workers).
cpu_ticks() {
  local p total=0
  for p in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
    total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0)))
  done
  echo "$total"
}
# measure ROUND SCENARIO SERVER BASE_URL LIST PID: wrk req/s, and the server's CPU time per request
# (steadier than req/s on a shared machine: it does not depend on the share of the cores it got).
measure() {
  local round=$1 scen=$2 srv=$3 base=$4 list=$5 pid=$6 out json c0 c1
  run_wrk "$WARMUP" "$base" "$list" >/dev/null
  c0=$(cpu_ticks "$pid")
  out=$(run_wrk "$DURATION" "$base" "$list")
  c1=$(cpu_ticks "$pid")
  json=$(sed -n 's/^BENCH_JSON //p' <<<"$out")
  [ -n "$json" ] || { echo "$out" >&2; die "$scen/$srv: wrk printed no result"; }
  log "round $round ($scen) $(printf '%-7s' "$srv") $(grep -E 'Requests/sec' <<<"$out" | tr -s ' ') cpu $(((c1 - c0) * 10)) ms load $(cut -d' ' -f1-3 /proc/loadavg)"
  printf '{"round":%d,"scenario":"%s","server":"%s","cpuMs":%d,"wrk":%s}\n' "$round" "$scen" "$srv" "$(((c1 - c0) * 1000 / $(getconf CLK_TCK)))" "$json" >>"$RUN_JSONL"
}

start_node fs "$DATA_DIR"; FS_PID=$NODE_PID; FS_URL=$NODE_URL
verify "strom fs" "$FS_URL"
mkdir -p "$TMP_DIR/s3-node"
start_node s3 "$TMP_DIR/s3-node" "${S3_FLAGS[@]}"; S3N_PID=$NODE_PID; S3N_URL=$NODE_URL
verify "strom s3" "$S3N_URL"
warm "$FS_URL"
warm "$S3N_URL"
SERVERS="fs s3"
if [ -n "$BASE_MAIN" ]; then
  MAIN=$BASE_MAIN start_node fs-base "$DATA_DIR"; BASE_PID=$NODE_PID; BASE_URL=$NODE_URL
  verify "strom fs ($BASELINE_REF)" "$BASE_URL"
  warm "$BASE_URL"
  SERVERS="fs s3 fs-base"
fi
for round in $(seq "$ROUNDS"); do
  order=$SERVERS; [ $((round % 2)) = 0 ] && order=$(tr ' ' '\n' <<<"$SERVERS" | tac | tr '\n' ' ')
  for scen in hot-a hot-c; do
    list=$SEGMENT_LIST; [ "$scen" = hot-c ] && list=$PLAYLIST_LIST
    for srv in $order; do
      case $srv in
        fs) measure "$round" "$scen" fs "$FS_URL" "$list" "$FS_PID" ;;
        s3) measure "$round" "$scen" s3 "$S3N_URL" "$list" "$S3N_PID" ;;
        fs-base) measure "$round" "$scen" fs-base "$BASE_URL" "$list" "$BASE_PID" ;;
      esac
    done
  done
done
stop_pid "$FS_PID"
stop_pid "$S3N_PID"
[ -n "$BASE_MAIN" ] && stop_pid "$BASE_PID"

# Cold: a fresh s3 node; every measured segment is its first request for that object.
mkdir -p "$TMP_DIR/s3-cold"
start_node s3-cold "$TMP_DIR/s3-cold" "${S3_FLAGS[@]}"
COLD_JSON=$(cd "$ROOT" && npx tsx "$HERE/storage-bench.mts" ttfb "$S3_URL" "$NODE_URL" "$SEGMENT_LIST" "$COLD" | sed -n 's/^BENCH_JSON //p')
[ -n "$COLD_JSON" ] || die "cold TTFB measurement printed nothing"
stop_pid "$NODE_PID"
stop_pid "$S3RVER_PID"

UPTIME_END=$(uptime)
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
export BASELINE_REF RUN_JSONL COLD_JSON COMMAND_LINE UPTIME_START UPTIME_END DURATION CONNECTIONS THREADS ROUNDS CACHE SEGMENT_COUNT SEGMENT_BYTES STROM_WORKERS_EFFECTIVE BUILD_STATUS
node --input-type=module - "$RESULTS_DIR/storage-delivery-$STAMP.json" <<'EOF'
import { readFileSync, writeFileSync } from 'node:fs';
const runs = readFileSync(process.env.RUN_JSONL, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
const rps = (r) => r.wrk.requests / (r.wrk.durationUs / 1e6);
const cpuUs = (r) => (r.cpuMs * 1000) / r.wrk.requests;
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const rows = [];
for (const scen of ['hot-a', 'hot-c']) {
  const fs = median(runs.filter((r) => r.scenario === scen && r.server === 'fs').map(rps));
  const s3 = median(runs.filter((r) => r.scenario === scen && r.server === 's3').map(rps));
  const errors = runs.filter((r) => r.scenario === scen).reduce((n, r) => n + Object.values(r.wrk.errors).reduce((a, b) => a + b, 0), 0);
  const baseRuns = runs.filter((r) => r.scenario === scen && r.server === 'fs-base').map(rps);
  const base = baseRuns.length ? median(baseRuns) : null;
  const cpu = (srv) => { const xs = runs.filter((r) => r.scenario === scen && r.server === srv).map(cpuUs); return xs.length ? +median(xs).toFixed(1) : null; };
  const [fsCpu, s3Cpu, baseCpu] = [cpu('fs'), cpu('s3'), cpu('fs-base')];
  rows.push({ scenario: scen, fsRps: Math.round(fs), s3Rps: Math.round(s3), ratio: +(s3 / fs).toFixed(2), target: 0.9, errors,
    fsCpuUsPerRequest: fsCpu, s3CpuUsPerRequest: s3Cpu, cpuRatio: +(fsCpu / s3Cpu).toFixed(2),
    ...(base === null ? {} : { fsBaseRps: Math.round(base), fsVsBase: +(fs / base).toFixed(2), fsBaseCpuUsPerRequest: baseCpu, fsVsBaseCpu: +(baseCpu / fsCpu).toFixed(2) }) });
}
const cold = JSON.parse(process.env.COLD_JSON);
console.log('\nscenario      fs req/s    s3 req/s   s3/fs  (target ≥ 0.9)' + (rows[0].fsBaseRps ? '   fs-base req/s   fs/fs-base' : ''));
for (const r of rows) console.log(`${r.scenario.padEnd(10)} ${String(r.fsRps).padStart(11)} ${String(r.s3Rps).padStart(11)}   ${r.ratio.toFixed(2)}` +
  (r.fsBaseRps ? `   ${String(r.fsBaseRps).padStart(13)}   ${r.fsVsBase.toFixed(2)}` : '') + (r.errors ? `  wrk errors ${r.errors}` : ''));
console.log('\nserver CPU per request (µs, median): the capacity ratio on a shared machine (fs µs / s3 µs; target ≥ 0.9)');
for (const r of rows) console.log(`${r.scenario.padEnd(10)} fs ${r.fsCpuUsPerRequest}  s3 ${r.s3CpuUsPerRequest}  fs/s3 ${r.cpuRatio.toFixed(2)}` +
  (r.fsBaseCpuUsPerRequest ? `  fs-base ${r.fsBaseCpuUsPerRequest}  fs-base/fs ${r.fsVsBaseCpu.toFixed(2)}` : ''));
const f = (x) => x.toFixed(2);
console.log(`\ncold first request, time to first byte over ${cold.n} segments (ms): Strom p50 ${f(cold.stromMs.p50)} p90 ${f(cold.stromMs.p90)} | direct GetObject p50 ${f(cold.directGetObjectMs.p50)} p90 ${f(cold.directGetObjectMs.p90)} | Strom − direct p50 ${f(cold.stromMs.p50 - cold.directGetObjectMs.p50)}`);
const out = { command: process.env.COMMAND_LINE, baselineRef: process.env.BASELINE_REF || null, at: new Date().toISOString(), build: process.env.BUILD_STATUS, uptimeStart: process.env.UPTIME_START, uptimeEnd: process.env.UPTIME_END,
  wrk: { duration: process.env.DURATION, connections: +process.env.CONNECTIONS, threads: +process.env.THREADS, rounds: +process.env.ROUNDS },
  data: { segments: +process.env.SEGMENT_COUNT, bytes: +process.env.SEGMENT_BYTES, cacheBytes: +process.env.CACHE }, deliveryWorkers: +process.env.STROM_WORKERS_EFFECTIVE,
  hot: rows, cold, runs };
writeFileSync(process.argv[2], JSON.stringify(out, null, 2));
console.log(`\nwrote ${process.argv[2]}`);
EOF
