/**
 * LL-HLS over HTTP (draft-pantos-hls-rfc8216bis-16 §6.2.5–§6.2.6; SPECS.md "LL-HLS" and
 * "HTTP delivery"): under /live/<streamId>/ —
 *   master.m3u8  multivariant playlist → index.m3u8     index.m3u8  LL media playlist (blocking)
 *   plain.m3u8   same segments, no LL tags               init_<run>.mp4  CMAF header (init_<run>_<v>.mp4
 *                                                        after a codec configuration change)
 *   seg_<run>_<msn>.m4s  complete segment               part_<run>_<n>.m4s  part n (global number)
 * `<run>` is the muxer's run id (formats/hls/live-media-names.ts): media URLs are sent immutable,
 * so each names one muxer run's bytes; a URL of another run is a 404, and every error here is
 * `no-store`.
 * Live ABR: /live/<streamId>/<rung>/<file> serves a transcoded rendition with the same
 * files (no master); the master lists every rendition that is up, and each LL media playlist
 * reports the OTHER renditions (§4.4.5.4 EXT-X-RENDITION-REPORT, LAST-MSN/LAST-PART).
 * Parts are numbered globally, so the PRELOAD-HINT URI is known before anyone knows whether the
 * next part opens a new segment. The hinted part is answered at once with chunked transfer and
 * its bytes are written the moment the muxer completes it.
 * Caching per object kind: init/segments/parts immutable (unique per muxer run); blocking playlist responses cacheable for
 * 6 × target duration (their URL, query included, is the cache key); the non-blocking LL playlist
 * max-age 0 (a part target is under a second); the plain playlist max-age ≤ half the target
 * duration. CORS exposes Age (hls.js reads it for blocking responses) and the length headers.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fail, isStromError, StromError } from '../../errors.js';
import { sendChunkedSegment, streamable } from './chunked-segment.js'; // LL-DASH segments in progress
import { codecParameter } from '../formats/cmaf/sample-entry.js';
import { PART_SLACK_MS } from '../formats/cmaf/live-segmenter.js';
import { isAvailable, parseBlockingQuery, tooFarAhead } from '../formats/hls/ll-hls-blocking.js';
import type { LlHlsMuxer } from '../formats/hls/ll-hls-muxer.js';
import { initName, parseMediaName, partName, segmentName, type MediaName } from '../formats/hls/live-media-names.js';
import { renderLlPlaylist, renderMasterPlaylist, renderPlainPlaylist, type MediaPlaylistInput, type Variant } from '../formats/hls/ll-hls-playlist.js';
import type { LivePlaybackGuard } from '../../auth/playback-guard.js';
import { firstSegment, type LlHlsService } from './ll-hls-service.js';
import type { StreamRegistry } from '../stream/stream-registry.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const M3U8 = 'application/vnd.apple.mpegurl';
const PLAYLIST = /^(index|master|plain)\.m3u8$/;

/**
 * Every error of the live HLS/DASH routes is `no-store` (RFC 9111 §5.2.2.5). Without a
 * Cache-Control a 404 is heuristically cacheable (§4.2.2), and a 404 here can turn into a 200
 * under the same URL: a segment asked for before it exists, a stream that goes live.
 */
export function uncacheable(err: unknown): never {
  if (!isStromError(err)) throw err;
  throw new StromError(err.code, err.message, err.statusCode, { ...err.headers, 'Cache-Control': 'no-store' });
}

/** Query parameters other than `_HLS_*` (playback tokens) carried onto every URI we list. */
function carriedQuery(q: Record<string, unknown>): string {
  const keep = Object.entries(q).filter(([k, v]) => !k.startsWith('_HLS_') && typeof v === 'string') as Array<[string, string]>;
  return keep.length === 0 ? '' : `?${new URLSearchParams(keep).toString()}`;
}

/** The playlist snapshot of a muxer. */
export function playlistInput(mux: LlHlsMuxer, q: string): MediaPlaylistInput {
  return {
    targetDurationS: mux.targetDurationS,
    partTargetS: (mux.opts.partTargetMs + PART_SLACK_MS) / 1000,
    initUri: `${initName(mux.run, 0)}${q}`,
    segments: mux.segments.map((s) => ({
      msn: s.msn, durationS: s.durationMs / 1000, pdtMs: s.pdtMs, complete: s.complete, uri: `${segmentName(mux.run, s.msn)}${q}`,
      discontinuity: s.discontinuity, mapUri: s.initVersion === 0 ? undefined : `${initName(mux.run, s.initVersion)}${q}`,
      parts: s.parts.map((p) => ({ uri: `${partName(mux.run, p.seq)}${q}`, durationS: p.durationMs / 1000, independent: p.independent })),
    })),
    preloadHint: mux.ended ? null : `${partName(mux.run, mux.nextPartSeq)}${q}`,
    ended: mux.ended,
    discontinuitySequence: mux.discontinuitySequence,
  };
}

/** Fastify routes for LL-HLS and plain HLS playback of live streams. */
export function llHlsRoutes(registry: StreamRegistry, service: LlHlsService, corsOrigin: string, guard: () => LivePlaybackGuard | null) {
  const cors = (reply: FastifyReply) => {
    if (corsOrigin === '') return;
    reply.header('Access-Control-Allow-Origin', corsOrigin).header('Access-Control-Expose-Headers', 'Age, Content-Length, Content-Range, ETag');
  };
  return async function routes(app: FastifyInstance): Promise<void> {
    app.options('/live/:streamId/:file', async (_req, reply) => {
      cors(reply);
      reply.code(204).header('Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS')
        .header('Access-Control-Allow-Headers', 'Range, CMCD-Object, CMCD-Request, CMCD-Session, CMCD-Status').header('Access-Control-Max-Age', '600');
    });
    type Req = FastifyRequest<{ Params: { streamId: string; file: string; rendition?: string }; Querystring: Record<string, unknown> }>;
    const serve = async (req: Req, reply: FastifyReply) => {
      const { streamId, file } = req.params;
      const rung = req.params.rendition ?? null; // live ABR rendition: /live/<id>/<rung>/<file>
      cors(reply);
      const m = PLAYLIST.exec(file);
      const media = m === null ? parseMediaName(file) : null;
      const name = `${streamId}/${rung === null ? '' : `${rung}/`}${file}`;
      if ((m === null && media === null) || !/^[A-Za-z0-9_-]{1,64}$/.test(streamId) || (rung !== null && (!RUNG.test(rung) || m?.[1] === 'master'))) throw fail('LIVE_STREAM_NOT_FOUND', name);
      // A malformed blocking query is a 400 whether or not the stream is live
      const bq = m?.[1] === 'index' ? parseBlockingQuery(req.query) : null;
      if (bq !== null && 'error' in bq) throw fail('LIVE_HLS_BAD_QUERY', bq.error);
      await guard()?.(req.raw, streamId);
      reply.header('Age', '0');
      if (media !== null) return sendMedia(service, streamId, rung, media, reply, name);
      if (registry.active(streamId) === null) await registry.acquire(streamId); // cluster: pulled from its node first
      const source = service.muxer(streamId); // starts (or keeps alive) the source muxer, and with it the ABR ladder
      const mux = rung === null ? source : service.rendition(streamId, rung);
      const q = carriedQuery(req.query);
      const reports = () => renditionReports(service, streamId, source, rung, q);
      if (bq !== null && !('error' in bq)) {
        if (mux.waiters.size >= service.maxHeldRequests) throw fail('LIVE_HLS_BUSY', mux.waiters.size); // cap held requests
        await firstSegment(mux);
        if (bq.msn !== undefined) {
          const last = mux.segments.at(-1)?.msn ?? 0;
          if (tooFarAhead(last, bq.msn)) throw fail('LIVE_HLS_BAD_QUERY', `_HLS_msn=${bq.msn} is more than 2 beyond the last segment ${last}`);
          const holdMs = 3 * mux.targetDurationS * 1000;
          if (!isAvailable(mux.position(), bq.msn, bq.part) && !(await mux.waiters.wait(bq.msn, bq.part, holdMs)) && !mux.ended) {
            throw fail('LIVE_HLS_NOT_READY', `segment ${bq.msn}${bq.part === undefined ? '' : ` part ${bq.part}`}`, holdMs);
          }
        }
        const cache = bq.msn !== undefined ? `public, max-age=${6 * mux.targetDurationS}` : 'public, max-age=0';
        const rr = reports();
        const key = `ll|${bq.skip}|${q}|${rr.map((r) => `${r.lastMsn}.${r.lastPart}`).join(',')}`;
        return reply.type(M3U8).header('Cache-Control', cache).send(mux.rendition(key, () => renderLlPlaylist({ ...playlistInput(mux, q), renditionReports: rr }, bq.skip)));
      }
      if (m?.[1] === 'plain') {
        await firstSegment(mux);
        const maxAge = Math.floor(mux.targetDurationS / 2);
        return reply.type(M3U8).header('Cache-Control', `public, max-age=${maxAge}`).send(mux.rendition(`plain|${q}`, () => renderPlainPlaylist(playlistInput(mux, q))));
      }
      await firstSegment(mux); // master.m3u8
      const body = renderMasterPlaylist(variants(registry, service, streamId, mux, q));
      return reply.type(M3U8).header('Cache-Control', 'public, max-age=1').send(body);
    };
    const route = (req: Req, reply: FastifyReply) => serve(req, reply).catch(uncacheable);
    app.get('/live/:streamId/:file', route);
    app.get('/live/:streamId/:rendition/:file', route); // live ABR renditions
    app.options('/live/:streamId/:rendition/:file', async (_req, reply) => {
      cors(reply);
      reply.code(204).header('Access-Control-Allow-Methods', 'GET, HEAD, OPTIONS')
        .header('Access-Control-Allow-Headers', 'Range, CMCD-Object, CMCD-Request, CMCD-Session, CMCD-Status').header('Access-Control-Max-Age', '600');
    });
  };
}

// Live ABR: master variants and rendition reports.
const RUNG = /^\d{2,4}p$/;

/** EXT-X-STREAM-INF entries: the source (index.m3u8), then every transcoded rendition that is up. */
function variants(registry: StreamRegistry, service: LlHlsService, streamId: string, mux: LlHlsMuxer, q: string): Variant[] {
  const s = registry.get(streamId);
  const t = s?.tracks ?? {};
  const codecs = [t.video && codecParameter({ codec: t.video.codec, config: t.video.config.payload }, t.video.codecString),
    t.audio && codecParameter({ codec: t.audio.codec, config: t.audio.config.payload }, t.audio.codecString)].filter((c): c is string => typeof c === 'string');
  const meta = s?.meta ?? {};
  const dim = (x: unknown) => (typeof x === 'number' && x > 0 ? x : undefined);
  const frameRate = dim(meta.framerate) ?? (dim(s?.rates().fps) !== undefined ? s!.rates().fps : undefined);
  const out: Variant[] = [{ uri: `index.m3u8${q}`, bandwidth: mux.peakBitrate, averageBandwidth: mux.averageBitrate(), codecs, width: dim(meta.width), height: dim(meta.height), frameRate }];
  for (const r of service.abr.renditions(streamId)) {
    out.push({ uri: `${r.rung.name}/index.m3u8${q}`, bandwidth: r.mux!.peakBitrate, averageBandwidth: r.mux!.averageBitrate(), codecs: r.codecs.length > 0 ? r.codecs : codecs, width: r.rung.width, height: r.rung.height, frameRate });
  }
  return out;
}

/** EXT-X-RENDITION-REPORT for every OTHER rendition (§4.4.5.4), relative to the playlist's own URL. */
function renditionReports(service: LlHlsService, streamId: string, source: LlHlsMuxer, self: string | null, q: string): Array<{ uri: string; lastMsn: number; lastPart: number }> {
  const list = service.abr.renditions(streamId);
  if (list.length === 0) return [];
  const up = self === null ? '' : '../';
  const all: Array<{ uri: string; mux: LlHlsMuxer | null }> = [{ uri: `${up}index.m3u8${q}`, mux: self === null ? null : source }];
  for (const r of list) all.push({ uri: `${up}${r.rung.name}/index.m3u8${q}`, mux: r.rung.name === self ? null : r.mux });
  const out: Array<{ uri: string; lastMsn: number; lastPart: number }> = [];
  for (const x of all) {
    const pos = x.mux?.lastPosition();
    if (pos) out.push({ uri: x.uri, lastMsn: pos.msn, lastPart: pos.part });
  }
  return out;
}

/**
 * An init segment, segment or part of the muxer run its name carries. Only a running muxer can
 * have produced a media URL, so none is started here (a stale URL from a cache or an old playlist
 * must not wake an idle stream's muxer), and a name of another run — an earlier muxer of this
 * stream, or another node's — is a 404: its bytes are gone, and the current run's bytes under its
 * immutable URL would be wrong ones.
 */
async function sendMedia(service: LlHlsService, streamId: string, rung: string | null, media: MediaName, reply: FastifyReply, name: string): Promise<FastifyReply | void> {
  const source = service.running(streamId);
  const mux = source === null || rung === null ? source : service.abr.rendition(streamId, rung);
  if (mux === null || mux.run !== media.run) throw fail('LIVE_STREAM_NOT_FOUND', name);
  if (media.kind === 'init') {
    await firstSegment(mux);
    const init = mux.init(media.n);
    if (init === null) throw fail('LIVE_STREAM_NOT_FOUND', name);
    return reply.type('video/mp4').header('Cache-Control', IMMUTABLE).send(init);
  }
  if (media.kind === 'segment') {
    const bytes = mux.segmentBytes(media.n);
    // LL-DASH: a segment in progress is streamed part by part.
    if (bytes === null && streamable(mux, media.n)) return sendChunkedSegment(mux, media.n, reply);
    if (bytes === null) throw fail('LIVE_STREAM_NOT_FOUND', name);
    return reply.type('video/iso.segment').header('Cache-Control', IMMUTABLE).send(bytes);
  }
  return sendPart(mux, media.n, reply, name);
}

/** A complete part, or the hinted one streamed with chunked transfer as soon as it completes. */
async function sendPart(mux: LlHlsMuxer, seq: number, reply: FastifyReply, name: string): Promise<FastifyReply | undefined> {
  const done = mux.part(seq);
  if (done) return reply.type('video/iso.segment').header('Cache-Control', IMMUTABLE).send(done.bytes);
  if (seq !== mux.nextPartSeq || mux.ended) throw fail('LIVE_STREAM_NOT_FOUND', name);
  reply.hijack();
  const res = reply.raw;
  const headers: Record<string, string> = { 'Content-Type': 'video/iso.segment', 'Cache-Control': IMMUTABLE };
  for (const [k, v] of Object.entries(reply.getHeaders())) if (typeof v === 'string') headers[k] = v;
  res.writeHead(200, headers);
  res.flushHeaders();
  const holdMs = 3 * mux.targetDurationS * 1000;
  let timer: NodeJS.Timeout | undefined;
  // A timed-out waiter stays registered until the part completes or the stream ends (≤ one part).
  const p = await Promise.race([mux.awaitPart(seq), new Promise<null>((r) => (timer = setTimeout(() => r(null), holdMs)))]);
  clearTimeout(timer);
  if (p === null) res.destroy(); // ended or late: never let a cache keep an empty or partial body
  else res.end(p.bytes);
  return undefined;
}
