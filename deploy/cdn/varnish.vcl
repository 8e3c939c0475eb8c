# Varnish as a caching CDN edge in front of a Strom origin (docs/CDN.md explains every rule and the
# Strom header it relies on; test/e2e/cdn-varnish.test.ts runs this file in front of a real origin).
#
# Fill the placeholders, then start Varnish with it, e.g.
#   STROM_ORIGIN_HOST=10.0.0.5 STROM_ORIGIN_PORT=8080 \
#   envsubst '${STROM_ORIGIN_HOST} ${STROM_ORIGIN_PORT}' < deploy/cdn/varnish.vcl > /etc/varnish/strom-cdn.vcl
#   varnishd -a :80 -f /etc/varnish/strom-cdn.vcl -s malloc,8g
#   ${STROM_ORIGIN_HOST} ${STROM_ORIGIN_PORT}   the origin (cluster mode: see "Several origin nodes" below)
# The origin should run with `rateLimit.media.perMinute=0` (behind a CDN every request comes from
# the CDN's few addresses; Strom's media rate limit is per client IP).
#
# Several origin nodes: declare one backend per node and pick one in vcl_recv with
# `directors.shard()` keyed on the stream id for /live/ (each node cuts LL-HLS parts with its own
# muxer, named with that muxer's run id, so a part listed by one node is a 404 on another;
# docs/SCALING.md "Live across nodes"), round-robin for the rest.

vcl 4.1;

import std;

backend strom {
    .host = "${STROM_ORIGIN_HOST}";
    .port = "${STROM_ORIGIN_PORT}";
    .connect_timeout = 2s;
    # A blocking playlist request (_HLS_msn) is held by the origin for up to 3 × target duration
    # (6 s with 2 s segments) before its 503.
    .first_byte_timeout = 20s;
    # The hinted part and the segment in progress come part by part (chunked), as the muxer
    # completes them; the next bytes may be a part duration, or a hold, away.
    .between_bytes_timeout = 20s;
    # Health decides how much grace is allowed (vcl_recv): short while healthy, long while sick.
    # .initial = .threshold: healthy from the start, no 503s before the first probe.
    .probe = {
        .url = "/healthz";
        .interval = 1s;
        .timeout = 1s;
        .window = 3;
        .threshold = 2;
        .initial = 2;
    }
}

sub vcl_recv {
    # The cluster's internal relay is for nodes only.
    if (req.url ~ "^/internal/") {
        return (synth(404));
    }
    # WS-FLV and HTTP-FLV: one connection per viewer for as long as the stream lasts, never
    # cacheable (`no-cache, no-store`): hand the connection to the origin.
    if (req.http.Upgrade ~ "(?i)websocket" || req.url ~ "^/live/[A-Za-z0-9_-]+\.flv(\?|$)") {
        return (pipe);
    }
    if (req.method != "GET" && req.method != "HEAD") {
        return (pass);
    }
    # Never cacheable, so kept off the waiting list (requests arriving while one is fetched would
    # wait for it, only to be sent to the origin after it): the LL media playlist without
    # _HLS_msn (`max-age=0`), the dynamic MPD (`max-age=0`, built with this Host) and the
    # UTCTiming clock (`no-store`). API, uploads, server-sent events, WHIP/WHEP signalling, web
    # UI: not media.
    if ((req.url ~ "^/live/[A-Za-z0-9_-]+/(?:[0-9]+p/)?index\.m3u8(\?|$)" && req.url !~ "[?&]_HLS_msn=")
        || req.url ~ "^/live/(?:[A-Za-z0-9_-]+/manifest\.mpd|time)(\?|$)"
        || (req.url !~ "^/(?:v|s|live)/" && req.url !~ "^/api/v1/video/stream/[A-Za-z0-9_-]+$")) {
        return (pass);
    }
    if (req.http.Authorization) {
        return (pass);
    }
    # Media is never personalised by cookie; a browser's cookie must not make it uncacheable.
    unset req.http.Cookie;
    # Grace: an expired object may be served while it is refetched in the background (RFC 5861
    # stale-while-revalidate) for 10 s while the origin is healthy, and for the object's whole
    # grace (vcl_backend_response) while the probe says it is sick (stale-if-error).
    if (std.healthy(req.backend_hint)) {
        set req.grace = 10s;
    }
    # The hash is the built-in one: URL with its query (_HLS_msn/_HLS_part/_HLS_skip, token) and
    # Host. Concurrent misses of one hash wait for one fetch (request coalescing), and with
    # streaming every one of them receives the object as it arrives.
    return (hash);
}

sub vcl_pipe {
    if (req.http.Upgrade) {
        set bereq.http.Upgrade = req.http.Upgrade;
        set bereq.http.Connection = req.http.Connection;
    }
}

sub vcl_backend_response {
    # A background refresh (grace) that met an origin error: drop it and keep serving the stale
    # copy (RFC 5861 stale-if-error). A 404 or 403 (asset deleted, token revoked) is not an
    # error of the origin: it goes on to replace the copy below.
    if (bereq.is_bgfetch && beresp.status >= 500) {
        return (abandon);
    }
    # Errors are never stored. Strom's LL-HLS/LL-DASH errors (404 LIVE_STREAM_NOT_FOUND, 503
    # LIVE_HLS_NOT_READY/BUSY) are `no-store`, but its other Fastify routes' errors (HTTP-FLV's 404,
    # the API's) carry no Cache-Control, and Varnish would keep a 404 for default_ttl (2 min,
    # RFC 9111 §4.2.2 heuristic freshness): a stream that goes live, or a video once published,
    # must be seen at once. Hit-for-miss for 1 s, so the
    # requests that waited on this fetch go to the origin side by side, not one by one, and the
    # error takes the place of a stale copy (a deleted asset is not served from grace).
    if (beresp.status >= 400) {
        set beresp.ttl = 1s;
        set beresp.grace = 0s;
        set beresp.uncacheable = true;
        return (deliver);
    }
    # Live parts, segments and init segments keep the origin's lifetime (`immutable`, a year):
    # their names carry the run id of the muxer that cut them (part_<run>_<n>.m4s, …), so a URL
    # never names other bytes, not after the muxer restarts nor on another node (docs/LIVE.md).
    if (bereq.url ~ "^/live/") {
        # A live playlist past its lifetime is only good while its refresh is under way: a player
        # must see a stream that stopped, not a playlist that stopped moving.
        set beresp.grace = 2s;
    } else {
        # VOD: stale copies answer for a day while the origin is down; kept 7 days more for
        # conditional refetches (If-None-Match / If-Modified-Since → 304, RFC 9110 §13.1).
        set beresp.grace = 24h;
        set beresp.keep = 7d;
    }
    # Deliver while fetching (the default, stated): the hinted part and LL-DASH's segment in
    # progress reach every waiting client part by part, not once complete.
    set beresp.do_stream = true;
}

sub vcl_backend_error {
    # A background refresh (grace) that could not reach the origin: keep the stale copy.
    if (bereq.is_bgfetch) {
        return (abandon);
    }
    # The origin could not be reached (refused, timed out): 502, like nginx, so it is not taken
    # for Strom's own 503s; hit-for-miss for 1 s so waiting requests do not line up behind it.
    set beresp.status = 502;
    set beresp.reason = "Bad Gateway";
    set beresp.http.Content-Type = "application/json; charset=utf-8";
    set beresp.http.Cache-Control = "no-store";
    set beresp.body = {"{"error":{"code":"ORIGIN_UNREACHABLE","message":"the edge could not reach the origin","status":502}}"};
    set beresp.ttl = 1s;
    set beresp.uncacheable = true;
    return (deliver);
}

sub vcl_deliver {
    # RFC 9211 Cache-Status, plus X-Cache-Status in nginx's words ($upstream_cache_status).
    if (req.is_hitmiss || req.is_hitpass || obj.uncacheable) {
        set resp.http.X-Cache-Status = "BYPASS";
        set resp.http.Cache-Status = "strom-edge; fwd=bypass";
    } elsif (obj.hits > 0 && obj.ttl < 0s) {
        set resp.http.X-Cache-Status = "STALE";
        set resp.http.Cache-Status = "strom-edge; hit; fwd=stale";
    } elsif (obj.hits > 0) {
        set resp.http.X-Cache-Status = "HIT";
        set resp.http.Cache-Status = "strom-edge; hit";
    } else {
        set resp.http.X-Cache-Status = "MISS";
        set resp.http.Cache-Status = "strom-edge; fwd=miss";
    }
}

sub vcl_synth {
    set resp.http.X-Cache-Status = "BYPASS";
    set resp.http.Cache-Status = "strom-edge; fwd=bypass";
}
