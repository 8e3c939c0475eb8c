# Shared helpers for bench/delivery/run.sh and profile.sh (sourced, not executed).
# Every process started through start_bg is killed by cleanup (EXIT/INT/TERM trap).

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/../.." && pwd)
RESULTS_DIR=${RESULTS_DIR:-$ROOT/bench/results}
DATA_DIR=${BENCH_DATA:-$RESULTS_DIR/delivery-data}
TMP_DIR=$(mktemp -d "${TMPDIR:-/tmp}/strom-bench-delivery.XXXXXX")
BG_PIDS=()

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

cleanup() {
  local pid
  for pid in "${BG_PIDS[@]:-}"; do
    [ -n "$pid" ] && kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${BG_PIDS[@]:-}"; do
    [ -n "$pid" ] || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  BG_PIDS=()
  rm -rf "$TMP_DIR"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

# stop_pid PID: stop one process started by start_bg and forget it.
stop_pid() {
  local pid=$1 keep=() p
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  for p in "${BG_PIDS[@]:-}"; do [ "$p" != "$pid" ] && keep+=("$p"); done
  BG_PIDS=("${keep[@]:-}")
}

# require CMD PACKAGE: install PACKAGE with apt-get when root, else exit naming it.
require() {
  local cmd=$1 pkg=$2
  command -v "$cmd" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    log "$cmd is missing: apt-get install -y $pkg"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg" >&2 \
      || { apt-get update >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y "$pkg" >&2; } \
      || die "could not install $pkg"
    command -v "$cmd" >/dev/null 2>&1 || die "$pkg installed but $cmd is still not on PATH"
  else
    die "$cmd is missing: install the Debian package '$pkg' (sudo apt-get install -y $pkg) and re-run"
  fi
}

free_port() {
  node -e "const s=require('net').createServer();s.listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})"
}

# wait_http URL [seconds] [pid]: wait until URL answers 200 (give up early if pid exits).
wait_http() {
  local url=$1 limit=${2:-20} pid=${3:-} i
  for i in $(seq $((limit * 10))); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$url" 2>/dev/null)" = 200 ] && return 0
    [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null && return 1
    sleep 0.1
  done
  return 1
}

# build_strom: compile Strom and set STROM_MAIN.
#   default:         the working tree, `npx tsc -p tsconfig.json` → dist/ (others may be editing src:
#                    on type errors, warn and use what tsc emitted)
#   STROM_REF=<rev>: that commit's src/ (read with `git archive`, nothing in the checkout changes),
#                    compiled in the temp dir with the checkout's node_modules
build_strom() {
  STROM_MAIN=$ROOT/dist/main.js
  if [ -n "${STROM_REF:-}" ]; then
    local src=$TMP_DIR/strom-src
    mkdir -p "$src"
    log "building Strom at $STROM_REF ($(git -C "$ROOT" rev-parse --short "$STROM_REF")) in $src"
    git -C "$ROOT" archive "$STROM_REF" src tsconfig.json package.json | tar -x -C "$src" || die "git archive $STROM_REF failed"
    ln -s "$ROOT/node_modules" "$src/node_modules"
    (cd "$src" && npx tsc -p tsconfig.json >"$TMP_DIR/tsc.log" 2>&1) || { cat "$TMP_DIR/tsc.log" >&2; die "tsc failed for $STROM_REF"; }
    BUILD_STATUS="ok ($STROM_REF)"
    STROM_MAIN=$src/dist/main.js
    return
  fi
  if [ "${SKIP_BUILD:-0}" = 1 ]; then log "SKIP_BUILD=1: using existing dist/"; BUILD_STATUS=skipped; return; fi
  log "building Strom: npx tsc -p tsconfig.json"
  if (cd "$ROOT" && npx tsc -p tsconfig.json >"$TMP_DIR/tsc.log" 2>&1); then
    BUILD_STATUS=ok
  else
    BUILD_STATUS=errors
    log "WARNING: tsc reported errors (src/ may be mid-edit); benchmarking dist/ as emitted:"
    head -20 "$TMP_DIR/tsc.log" >&2
  fi
  [ -f "$STROM_MAIN" ] || die "dist/main.js is missing after the build"
}

# prepare_data: package (or reuse) the ladder; exports the manifest summary variables.
prepare_data() {
  local out
  out=$(cd "$ROOT" && npx tsx "$BENCH_DIR/prepare-assets.mts" "$DATA_DIR" "${ASSETS:-4}" "${ASSET_SECONDS:-60}" 2> >(grep -v 'npm warn' >&2)) \
    || die "preparing the benchmark assets failed"
  eval "$out"
  SEGMENT_LIST=$DATA_DIR/segments.list
  PLAYLIST_LIST=$DATA_DIR/playlist.list
}

# start_bg NAME CMD...: run CMD in the background (stdout/stderr to $TMP_DIR/NAME.log), record its pid in BG_PID.
start_bg() {
  local name=$1; shift
  "$@" >"$TMP_DIR/$name.log" 2>&1 &
  BG_PID=$!
  BG_PIDS+=("$BG_PID")
}

# strom_workers_setting: STROM_WORKERS_EFFECTIVE = STROM_WORKERS, else the build's default of
# delivery.workers (0 for builds that predate delivery workers).
strom_workers_setting() {
  if [ -n "${STROM_WORKERS:-}" ]; then STROM_WORKERS_EFFECTIVE=$STROM_WORKERS; return; fi
  STROM_WORKERS_EFFECTIVE=$(node --input-type=module -e "import('$(dirname "$STROM_MAIN")/config.js').then((m) => console.log(m.settings.find((s) => s.key === 'delivery.workers')?.default ?? 0))") \
    || die "cannot read delivery.workers from $(dirname "$STROM_MAIN")/config.js"
}

# start_strom CACHE_BYTES [node flags...]: sets STROM_PID and STROM_URL; waits for the delivery workers.
start_strom() {
  local cache=$1; shift
  local port; port=$(free_port)
  # No RTMP listener (newer builds start one on 1935 by default); env vars are ignored by builds without it.
  # wrk is one client IP: the per-IP media rate limiter stays on (its cost is measured) with a budget
  # one IP cannot exhaust, as an origin behind a CDN would be configured.
  STROM_RTMP_ENABLED=false STROM_RTMP_PORT=0 STROM_RATE_LIMIT_MEDIA_PER_MINUTE=1000000000 \
    start_bg "strom-$port" node "$@" "$STROM_MAIN" serve --host 127.0.0.1 --port "$port" --data "$DATA_DIR" \
    --set logLevel=warn --set "delivery.cacheBytes=$cache" ${STROM_WORKERS:+--set "delivery.workers=$STROM_WORKERS"}
  STROM_PID=$BG_PID
  STROM_URL=http://127.0.0.1:$port
  wait_http "$STROM_URL$PLAYLIST_URL" 30 "$STROM_PID" || {
    cat "$TMP_DIR/strom-$port.log" >&2
    die "Strom did not start (if the working tree is mid-edit, STROM_REF=HEAD benchmarks the last commit)"
  }
  # Measure with every delivery worker up (they start after the main listens).
  if [ "${STROM_WORKERS_EFFECTIVE:-0}" -gt 0 ]; then
    local i
    for i in $(seq 300); do
      curl -s "$STROM_URL/metrics" | grep -qx "strom_delivery_workers $STROM_WORKERS_EFFECTIVE" && return 0
      sleep 0.1
    done
    die "Strom's $STROM_WORKERS_EFFECTIVE delivery worker(s) did not become ready"
  fi
}

start_nginx() {
  local port; port=$(free_port)
  local prefix=$TMP_DIR/nginx
  mkdir -p "$prefix"
  local user_line=''
  [ "$(id -u)" = 0 ] && user_line="user $(id -un) $(id -gn);"   # workers run as the current user
  cat >"$prefix/nginx.conf" <<EOF
$user_line
worker_processes 2;
daemon off;
pid $prefix/nginx.pid;
error_log $prefix/error.log warn;
events { worker_connections 4096; }
http {
  types {
    application/vnd.apple.mpegurl m3u8;
    application/dash+xml mpd;
    video/iso.segment m4s;
    video/mp4 mp4;
  }
  default_type application/octet-stream;
  client_body_temp_path $prefix/client_body;
  proxy_temp_path $prefix/proxy;
  fastcgi_temp_path $prefix/fastcgi;
  uwsgi_temp_path $prefix/uwsgi;
  scgi_temp_path $prefix/scgi;
  access_log off;
  sendfile on;
  tcp_nopush on;
  tcp_nodelay on;
  keepalive_timeout 65;
  keepalive_requests 1000000;
  open_file_cache max=10000 inactive=60s;
  open_file_cache_valid 60s;
  open_file_cache_min_uses 1;
  open_file_cache_errors on;
  server {
    listen 127.0.0.1:$port;
    location /v/ {
      alias $DATA_DIR/assets/;
      add_header Cache-Control "public, max-age=31536000, immutable";
      add_header Access-Control-Allow-Origin "*";
    }
  }
}
EOF
  nginx -t -q -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log" || die "nginx config test failed"
  start_bg nginx nginx -p "$prefix" -c "$prefix/nginx.conf" -e "$prefix/error.log"
  NGINX_PID=$BG_PID
  NGINX_URL=http://127.0.0.1:$port
  wait_http "$NGINX_URL$PLAYLIST_URL" 20 "$NGINX_PID" || { cat "$prefix/error.log" >&2; die "nginx did not start"; }
}

start_fastify() {
  local port; port=$(free_port)
  start_bg "fastify-$port" node "$BENCH_DIR/fastify-static-server.mjs" "$DATA_DIR/assets" "$port"
  FASTIFY_PID=$BG_PID
  FASTIFY_URL=http://127.0.0.1:$port
  wait_http "$FASTIFY_URL$PLAYLIST_URL" 20 "$FASTIFY_PID" || { cat "$TMP_DIR/fastify-$port.log" >&2; die "@fastify/static server did not start"; }
}

# verify NAME BASE_URL: one segment and the playlist must be byte-identical to the files.
verify() {
  local name=$1 base=$2 url file want got
  for pair in "$CHECK_SEGMENT_URL|$CHECK_SEGMENT_FILE" "$PLAYLIST_URL|$PLAYLIST_FILE"; do
    url=${pair%%|*}; file=${pair#*|}
    want=$(sha256sum "$file" | cut -d' ' -f1)
    got=$(curl -sf "$base$url" | sha256sum | cut -d' ' -f1) || got=curl-failed
    [ "$want" = "$got" ] || die "$name: $url does not match $file (sha256 $got != $want)"
  done
  log "$name: verified $CHECK_SEGMENT_URL and $PLAYLIST_URL (sha256 match)"
}

# run_wrk DURATION BASE_URL LIST_FILE: prints wrk's report; the BENCH_JSON line is in it.
run_wrk() {
  wrk -t"${THREADS:-1}" -c"${CONNECTIONS:-64}" -d"$1" --timeout 10s -s "$BENCH_DIR/random-segments.lua" "$2" -- "$3"
}
