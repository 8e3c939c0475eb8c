/**
 * LL-HLS over HTTP (draft-pantos-hls-rfc8216bis-16 §6.2.5–§6.2.6; SPECS.md "LL-HLS" and
 * "HTTP delivery"): under /live/<streamId>/ —
 *   master.m3u8  multivariant playlist → index.m3u8     index.m3u8  LL media playlist (blocking)
 *   plain.m3u8   same segments, no LL tags               init.mp4    CMAF header (init_<v>.mp4 after
 *                                                        a codec configuration change)
 *   seg_<msn>.m4s  complete segment                     part_<n>.m4s  part n (global number)
 * Live ABR: /live/<streamId>/<rung>/<file> serves a transcoded rendition with the same
 * files (no master); the master lists every rendition that is up, and each LL media playlist
 * reports the OTHER renditions (§4.4.5.4 EXT-X-RENDITION-REPORT, LAST-MSN/LAST-PART).
 * Parts are numbered globally, so the PRELOAD-HINT URI is known before anyone knows whether the
 * next part opens a new segment. The hinted part is answered at once with chunked transfer and
 * its bytes are written the moment the muxer completes it.
 * Caching per object kind: init/segments/parts immutable; blocking playlist responses cacheable for
 * 6 × target duration (their URL, query included, is the cache key); the non-blocking LL playlist
 * max-age 0 (a part target is under a second); the plain playlist max-age ≤ half the target
 * duration. CORS exposes Age (hls.js reads it for blocking responses) and the length headers.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fail } from '../../errors.js';
import { sendChunkedSegment, streamable } from './chunked-segment.js'; // LL-DASH segments in progress
import { codecParameter } from '../formats/cmaf/sample-entry.js';
import { isAvailable, parseBlockingQuery, tooFarAhead } from '../formats/hls/ll-hls-blocking.js';
import type { LlHlsMuxer } from '../formats/hls/ll-hls-muxer.js';
import { renderLlPlaylist, renderMasterPlaylist, renderPlainPlaylist, type MediaPlaylistInput, type Variant } from '../formats/hls/ll-hls-playlist.js';
import type { LivePlaybackGuard } from '../../auth/playback-guard.js';
import { firstSegment, type LlHlsService } from './ll-hls-service.js';
import type { StreamRegistry } from '../stream/stream-registry.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';
const M3U8 = 'application/vnd.apple.mpegurl';
const FILE = /^(index|master|plain)\.m3u8$|^init(?:_(\d{1,6}))?\.mp4$|^seg_(\d{1,10})\.m4s$|^part_(\d{1,12})\.m4s$/;

/** Query parameters other than `_HLS_*` (playback tokens) carried onto every URI we list. */
function carriedQuery(q: Record<string, unknown>): string {
  const keep = Object.entries(q).filter(([k, v]) => !k.startsWith('_HLS_') && typeof v === 'string') as Array<[string, string]>;
  return keep.length === 0 ? '' : `?${new URLSearchParams(keep).toString()}`;
}

/** The playlist snapshot of a muxer. */
export function playlistInput(mux: LlHlsMuxer, q: string): MediaPlaylistInput {
  return {
    targetDurationS: mux.targetDurationS,
    partTargetS: mux.opts.partTargetMs / 1000,
    initUri: `init.mp4${q}`,
    segments: mux.segments.map((s) => ({
      msn: s.msn, durationS: s.durationMs / 1000, pdtMs: s.pdtMs, complete: s.complete, uri: `seg_${s.msn}.m4s${q}`,
      discontinuity: s.discontinuity, mapUri: s.initVersion === 0 ? undefined : `init_${s.initVersion}.mp4${q}`,
      parts: s.parts.map((p) => ({ uri: `part_${p.seq}.m4s${q}`, durationS: p.durationMs / 1000, independent: p.independent })),
    })),
    preloadHint: mux.ended ? null : `part_${mux.nextPartSeq}.m4s${q}`,
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
      const m = FILE.exec(file);
      if (!m || !/^[A-Za-z0-9_-]{1,64}$/.test(streamId) || (rung !== null && (!RUNG.test(rung) || m[1] === 'master'))) throw fail('LIVE_STREAM_NOT_FOUND', `${streamId}/${rung === null ? '' : `${rung}/`}${file}`);
      // A malformed blocking query is a 400 whether or not the stream is live
      const bq = m[1] === 'index' ? parseBlockingQuery(req.query) : null;
      if (bq !== null && 'error' in bq) throw fail('LIVE_HLS_BAD_QUERY', bq.error);
      await guard()?.(req.raw, streamId);
      if (registry.active(streamId) === null) await registry.acquire(streamId); // cluster: pulled from its node first
      const source = service.muxer(streamId); // starts (or keeps alive) the source muxer, and with it the ABR ladder
      const mux = rung === null ? source : service.rendition(streamId, rung);
      const q = carriedQuery(req.query);
      const reports = () => renditionReports(service, streamId, source, rung, q);
      reply.header('Age', '0');
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
      if (m[1] === 'plain') {
        await firstSegment(mux);
        const maxAge = Math.floor(mux.targetDurationS / 2);
        return reply.type(M3U8).header('Cache-Control', `public, max-age=${maxAge}`).send(mux.rendition(`plain|${q}`, () => renderPlainPlaylist(playlistInput(mux, q))));
      }
      if (m[1] === 'master') {
        await firstSegment(mux);
        const body = renderMasterPlaylist(variants(registry, service, streamId, mux, q));
        return reply.type(M3U8).header('Cache-Control', 'public, max-age=1').send(body);
      }
      if (file.startsWith('init')) {
        await firstSegment(mux);
        const init = mux.init(Number(m[2] ?? 0));
        if (init === null) throw fail('LIVE_STREAM_NOT_FOUND', `${streamId}/${file}`);
        return reply.type('video/mp4').header('Cache-Control', IMMUTABLE).send(init);
      }
      if (m[3] !== undefined) {
        const bytes = mux.segmentBytes(Number(m[3]));
        // LL-DASH: a segment in progress is streamed part by part.
        if (bytes === null && streamable(mux, Number(m[3]))) return sendChunkedSegment(mux, Number(m[3]), reply);
        if (bytes === null) throw fail('LIVE_STREAM_NOT_FOUND', `${streamId}/${file}`);
        return reply.type('video/iso.segment').header('Cache-Control', IMMUTABLE).send(bytes);
      }
      return sendPart(mux, Number(m[4]), reply, `${streamId}/${file}`);
    };
    app.get('/live/:streamId/:file', serve);
    app.get('/live/:streamId/:rendition/:file', serve); // live ABR renditions
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
