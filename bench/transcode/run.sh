#!/usr/bin/env bash
# Transcode benchmark (docs/BENCHMARKS.md "Transcode"): generates a 60 s 720p30 source, then in one
# run times bare ffmpeg with Strom's ladder command and `processVideo` on the same file, alternating
# for ROUNDS rounds. Prints overhead %, time-to-playable and its ratio to the full-ladder time.
#
#   bench/transcode/run.sh            # ROUNDS=2 SOURCE_SECONDS=60 PRESET=veryfast LADDER=720:2800,480:1400,360:800 SEG=4
set -euo pipefail
cd "$(dirname "$0")/../.."
ROUNDS=${ROUNDS:-2}
# (not $SECONDS: bash sets that to the shell's age)
SRC_SECONDS=${SOURCE_SECONDS:-60}
WORK=${BENCH_WORK:-$(mktemp -d /tmp/strom-bench-transcode-XXXXXX)}
trap 'rm -rf "$WORK"' EXIT
SRC="$WORK/source-720p30.mp4"
echo "generating ${SRC_SECONDS} s 720p30 source…"
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=1280x720:rate=30:duration=${SRC_SECONDS}" \
  -f lavfi -i "sine=frequency=440:sample_rate=48000:duration=${SRC_SECONDS}" \
  -c:v libx264 -preset veryfast -crf 20 -pix_fmt yuv420p -c:a aac -b:a 128k -movflags +faststart "$SRC"
mkdir -p bench/results
node --import tsx bench/transcode/bench.ts "$SRC" "$WORK" "$ROUNDS"
cp "$WORK/result.json" "bench/results/transcode-$(date -u +%Y%m%dT%H%M%SZ).json"
