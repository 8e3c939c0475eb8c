#!/usr/bin/env bash
# CPU per request on scenario (c) — one small playlist — for nginx, Strom and a bare-socket floor
# (floor-server.mjs, one and two processes). Throughput on a shared 2-core box depends on how the
# cores are split with wrk; CPU per request does not, so this is the figure to watch when changing
# the lean delivery path. CPU = utime + stime of the server's processes from /proc/<pid>/stat,
# sampled around each wrk run (wrk's own CPU is not counted).
#
#   bench/delivery/cpu-per-request.sh      (ROUNDS [2] DURATION [8s] CONNECTIONS [64] SKIP_BUILD STROM_WORKERS)
set -euo pipefail
. "$(cd "$(dirname "$0")" && pwd)/lib.sh"

ROUNDS=${ROUNDS:-2}
DURATION=${DURATION:-8s}
require nginx nginx-light
require wrk wrk
require curl curl
[ -f "$DATA_DIR/bench-manifest.json" ] || require ffmpeg ffmpeg
build_strom
strom_workers_setting
prepare_data
HZ=$(getconf CLK_TCK)

# ticks PID...: utime + stime of the processes, in clock ticks.
ticks() {
  local t=0 p f
  for p in "$@"; do
    read -ra f < <(cut -d' ' -f14,15 "/proc/$p/stat")
    t=$((t + f[0] + f[1]))
  done
  echo "$t"
}

# measure NAME URL PID...: one warm-up, one measured wrk run; prints req/s and µs of CPU per request.
measure() {
  local name=$1 url=$2; shift 2
  run_wrk 2s "$url" "$PLAYLIST_LIST" >/dev/null
  local before after out rps secs
  before=$(ticks "$@")
  out=$(run_wrk "$DURATION" "$url" "$PLAYLIST_LIST")
  after=$(ticks "$@")
  rps=$(sed -n 's/^Requests\/sec: *//p' <<<"$out")
  secs=${DURATION%s}
  awk -v n="$name" -v r="$rps" -v t=$((after - before)) -v hz="$HZ" -v s="$secs" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
    'BEGIN { printf "%-22s %9.0f req/s  %6.2f µs CPU/request  (load %s)\n", n, r, t / hz * 1e6 / (r * s), l }'
}

start_nginx
NGINX_PIDS=$(pgrep -P "$NGINX_PID" | tr '\n' ' ')
start_strom $((SEGMENT_BYTES * 2))
STROM_PIDS="$STROM_PID $(pgrep -P "$STROM_PID" | tr '\n' ' ' || true)"
# start_floor PROCESSES: sets FLOOR_URL and FLOOR_PIDS (the primary and its cluster workers).
start_floor() {
  local port; port=$(free_port)
  start_bg "floor-$1" node "$BENCH_DIR/floor-server.mjs" "$port" "$PLAYLIST_FILE" "$1"
  FLOOR_URL=http://127.0.0.1:$port
  wait_http "$FLOOR_URL$PLAYLIST_URL" 10 "$BG_PID" || die "floor server did not start"
  FLOOR_PIDS="$BG_PID $(pgrep -P "$BG_PID" | tr '\n' ' ' || true)"
}
start_floor 1; FLOOR1_URL=$FLOOR_URL; FLOOR1_PIDS=$FLOOR_PIDS
start_floor 2; FLOOR2_URL=$FLOOR_URL; FLOOR2_PIDS=$FLOOR_PIDS

log "load: $(uptime)"
for round in $(seq "$ROUNDS"); do
  # shellcheck disable=SC2086 # pid lists are meant to split
  {
    measure nginx "$NGINX_URL" $NGINX_PIDS
    measure "strom (workers $STROM_WORKERS_EFFECTIVE)" "$STROM_URL" $STROM_PIDS
    measure "floor (1 process)" "$FLOOR1_URL" $FLOOR1_PIDS
    measure "floor (2 processes)" "$FLOOR2_URL" $FLOOR2_PIDS
  }
done
log "load: $(uptime)"
