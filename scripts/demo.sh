#!/usr/bin/env bash
# README's first command: set up, ingest demo content on the embedded defaults (SQLite and local
# files under ./data), then run Strom in the foreground until Ctrl-C.
#   PORT=8080 HOST=127.0.0.1 DATA=./data bash scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PORT="${PORT:-8080}"; HOST="${HOST:-127.0.0.1}"; DATA="${DATA:-./data}"
RTMP_PORT="${RTMP_PORT:-1935}"

bash scripts/setup.sh run
mkdir -p "$DATA"
strom() { node bin/strom.js "$@"; }

# 1. A VOD asset: a generated 30 s test pattern with a tone, through the real pipeline.
# The marker files are written through a temp name so a failed step leaves none behind (the next
# run retries it instead of reading an empty file).
if [ ! -s "$DATA/.demo-vod" ]; then
  src="$DATA/demo-source.mp4"
  echo "demo: generating a 30 s 720p test video and ingesting it (a minute on 2 cores)…"
  ffmpeg -hide_banner -loglevel error -y \
    -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=30" \
    -f lavfi -i "sine=frequency=440:beep_factor=4:sample_rate=48000:duration=30" \
    -c:v libx264 -preset veryfast -pix_fmt yuv420p -c:a aac -b:a 128k "$src"
  strom ingest "$src" --data "$DATA" --title "Demo: test pattern (30 s)" --json > "$DATA/.demo-vod.tmp"
  mv "$DATA/.demo-vod.tmp" "$DATA/.demo-vod"
  rm -f "$src"
fi
vod_id="$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).id' "$DATA/.demo-vod")"

# 2. An API token for trying the API (admin scope, 24 h).
token="$(strom token create --scope admin --ttl 24h --data "$DATA")"

base="http://$HOST:$PORT"

# 3. Run the server in the background, then a demo live stream published by ffmpeg.
node bin/strom.js serve --data "$DATA" --host "$HOST" --port "$PORT" --rtmp-port "$RTMP_PORT" &
server=$!
publisher=""
cleanup() {
  [ -n "$publisher" ] && kill "$publisher" 2>/dev/null || true
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
trap cleanup EXIT INT TERM
for _ in $(seq 1 100); do
  curl -fsS "$base/healthz" >/dev/null 2>&1 && break
  kill -0 "$server" 2>/dev/null || { echo "demo: the server failed to start" >&2; exit 1; }
  sleep 0.1
done
if [ ! -s "$DATA/.demo-live" ]; then
  curl -fsS -X POST "$base/api/v1/live-streams" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' -d '{"title":"Demo: live test pattern"}' > "$DATA/.demo-live.tmp"
  mv "$DATA/.demo-live.tmp" "$DATA/.demo-live"
fi
live_id="$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).id' "$DATA/.demo-live")"
live_key="$(node -p 'JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).streamKey' "$DATA/.demo-live")"
ffmpeg -hide_banner -loglevel error -re -f lavfi -i "testsrc2=size=1280x720:rate=30" \
  -f lavfi -i "sine=frequency=330:beep_factor=2:sample_rate=48000" \
  -c:v libx264 -preset veryfast -tune zerolatency -g 60 -b:v 2500k -pix_fmt yuv420p -c:a aac -b:a 128k \
  -f flv "rtmp://127.0.0.1:$RTMP_PORT/live/$live_key" &
publisher=$!

cat <<MSG

  Strom is running on $base  (data: $DATA)

  Web UI      $base/#token=$token   (opens the UI signed in)
  VOD demo    $base/v/$vod_id/master.m3u8   (HLS)
              $base/v/$vod_id/manifest.mpd  (DASH)
              $base/v/$vod_id/download.mp4
  Live demo   $base/live/$live_id.flv   (HTTP-FLV, published by ffmpeg to rtmp://127.0.0.1:$RTMP_PORT/live/…)
              $base/live/$live_id/master.m3u8   (LL-HLS)    $base/live/$live_id/manifest.mpd   (LL-DASH)
              WebRTC (WHEP): the Web UI's live page, Playback → WebRTC; WHIP ingest: $base/whip
  API         curl -H "Authorization: Bearer \$TOKEN" $base/api/v1/videos
  API docs    $base/api/v1/docs
  TOKEN       $token

  Stop with Ctrl-C.
MSG
wait "$server"
