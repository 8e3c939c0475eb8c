#!/usr/bin/env bash
# Installs everything Strom needs on a fresh machine, then builds it.
#   bash scripts/setup.sh run    ffmpeg/ffprobe + npm packages (what `strom serve` needs)
#   bash scripts/setup.sh test   + Chromium, curl, nghttp, openssl, Redis, PostgreSQL (browser, protocol and
#                                cluster tests; store tests start a private PostgreSQL server), nginx and
#                                Varnish (CDN tests run private instances of deploy/cdn/ in front of Strom), Caddy
#                                (the HTTP/3 test runs a private instance of deploy/h3/Caddyfile: its own port, admin
#                                endpoint off, own data directory — the package's caddy.service, which Debian starts
#                                where systemd runs and containers never start, does not matter to it), srt-tools
#                                (srt-live-transmit, libsrt's reference client, for the SRT interoperability tests),
#                                GStreamer (rtspclientsink/rtspsrc and the plugins they use, for the RTSP interoperability test),
#                                GStreamer's RTSP server library for Python (python3-gi, gir1.2-gst-rtsp-server-1.0: the
#                                camera stand-in of the RTSP pull tests, test/fixtures/rtsp-camera.py)
#   bash scripts/setup.sh bench  + nginx and wrk (side-by-side benchmarks), Caddy (bench/h3/ll-hls.ts)
# System tools come from Debian packages: installed with apt-get when running as root, otherwise
# the script stops and names the packages to install. npm packages come from `npm ci`.
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"

# command:package pairs per mode
want=("ffmpeg:ffmpeg" "ffprobe:ffmpeg")
case "$mode" in
  run) ;;
  test) want+=("chromium:chromium" "curl:curl" "nghttp:nghttp2-client" "openssl:openssl" "redis-server:redis-server" "initdb:postgresql" "nginx:nginx-light" "varnishd:varnish" "caddy:caddy" "srt-live-transmit:srt-tools" "gst-launch-1.0:gstreamer1.0-tools" "gst:rtspclientsink:gstreamer1.0-rtsp" "gst:rtspsrc:gstreamer1.0-plugins-good" "gst:x264enc:gstreamer1.0-plugins-ugly" "gst:opusenc:gstreamer1.0-plugins-base" "gst:avdec_h264:gstreamer1.0-libav" "gst:x265enc:gstreamer1.0-plugins-bad" "py:gi:python3-gi" "gir:GstRtspServer:gir1.2-gst-rtsp-server-1.0") ;;
  bench) want+=("nginx:nginx-light" "wrk:wrk" "curl:curl" "caddy:caddy" "chromium:chromium") ;;
  all) want+=("chromium:chromium" "curl:curl" "nghttp:nghttp2-client" "openssl:openssl" "redis-server:redis-server" "initdb:postgresql" "nginx:nginx-light" "wrk:wrk" "varnishd:varnish" "caddy:caddy" "srt-live-transmit:srt-tools" "gst-launch-1.0:gstreamer1.0-tools" "gst:rtspclientsink:gstreamer1.0-rtsp" "gst:rtspsrc:gstreamer1.0-plugins-good" "gst:x264enc:gstreamer1.0-plugins-ugly" "gst:opusenc:gstreamer1.0-plugins-base" "gst:avdec_h264:gstreamer1.0-libav" "gst:x265enc:gstreamer1.0-plugins-bad" "py:gi:python3-gi" "gir:GstRtspServer:gir1.2-gst-rtsp-server-1.0") ;;
  *) echo "usage: $0 run|test|bench|all" >&2; exit 2 ;;
esac

# Debian keeps PostgreSQL's server tools (initdb, pg_ctl) off PATH, in /usr/lib/postgresql/<ver>/bin.
# A GStreamer plugin has no command: `gst:<element>` asks gst-inspect-1.0 for the element instead.
# Python pieces neither: `py:<module>` imports the module with Debian's /usr/bin/python3, `gir:<Namespace>`
# asks python3-gi for a GObject introspection namespace (version 1.0).
found() {
  if [[ "$1" == gst:* ]]; then gst-inspect-1.0 "${1#gst:}" >/dev/null 2>&1; return; fi
  if [[ "$1" == py:* ]]; then /usr/bin/python3 -c "import ${1#py:}" >/dev/null 2>&1; return; fi
  if [[ "$1" == gir:* ]]; then /usr/bin/python3 -c "import gi; gi.require_version('${1#gir:}', '1.0')" >/dev/null 2>&1; return; fi
  command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ] || compgen -G "/usr/lib/postgresql/*/bin/$1" >/dev/null
}

missing=()
for pair in "${want[@]}"; do
  cmd="${pair%:*}"; pkg="${pair##*:}"
  if ! found "$cmd"; then
    [[ " ${missing[*]:-} " == *" $pkg "* ]] || missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Debian packages: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "setup: missing system packages: ${missing[*]}" >&2
    echo "setup: install them with: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

node_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js >= 20 is required (found $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# npm ci runs the `prepare` script, which compiles TypeScript into dist/.
if [ -z "${STROM_SKIP_NPM_CI:-}" ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
echo "setup: ready ($mode)"
