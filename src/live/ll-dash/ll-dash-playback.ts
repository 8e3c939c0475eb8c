/**
 * LL-DASH over HTTP (SPECS.md "Live DASH"; ISO/IEC 23009-1 §5.3.1.2, §5.8.4.11; DASH-IF IOP
 * low-latency): `GET /live/<streamId>/manifest.mpd` is the dynamic MPD over the LL-HLS muxer's
 * segments (`init_<run>.mp4`, `seg_<run>_<N>.m4s` — the same URLs and bytes as HLS, unique per
 * muxer run; in-progress segments are streamed by chunked-segment.ts from the HLS route), and
 * `GET /live/time` is the UTCTiming source
 * (urn:mpeg:dash:utc:http-iso:2014: an ISO 8601 instant, open without auth, CORS), because a
 * player's default time server is unreachable on a self-hosted or offline network.
 * The MPD may change with every segment, so it is `max-age=0`; its errors are `no-store` like the
 * HLS routes'; playback guards apply as for HLS and a `token` query parameter is carried onto the
 * segment URLs.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { fail } from '../../errors.js';
import { renderLlDashMpd } from '../formats/dash/ll-dash-mpd.js';
import { codecParameter } from '../formats/cmaf/sample-entry.js';
import type { LivePlaybackGuard } from '../../auth/playback-guard.js';
import { firstSegment, type LlHlsService } from '../ll-hls/ll-hls-service.js';
import { uncacheable } from '../ll-hls/ll-hls-playback.js';
import type { StreamRegistry } from '../stream/stream-registry.js';

/** ServiceDescription Latency@target of every live MPD, ms. */
export const DASH_TARGET_LATENCY_MS = 2500;

const xmlAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/** Fastify routes for the LL-DASH manifest and the UTCTiming endpoint. */
export function llDashRoutes(registry: StreamRegistry, service: LlHlsService, corsOrigin: string, guard: () => LivePlaybackGuard | null) {
  const cors = (reply: FastifyReply) => {
    if (corsOrigin !== '') reply.header('Access-Control-Allow-Origin', corsOrigin).header('Access-Control-Expose-Headers', 'Age, Content-Length, Date');
  };
  return async function routes(app: FastifyInstance): Promise<void> {
    app.get('/live/time', async (_req, reply) => {
      cors(reply);
      return reply.type('text/plain').header('Cache-Control', 'no-store').send(new Date().toISOString());
    });
    type Req = FastifyRequest<{ Params: { streamId: string }; Querystring: Record<string, unknown> }>;
    const mpd = async (req: Req, reply: FastifyReply) => {
      const { streamId } = req.params;
      cors(reply);
      if (!/^[A-Za-z0-9_-]{1,64}$/.test(streamId)) throw fail('LIVE_STREAM_NOT_FOUND', `${streamId}/manifest.mpd`);
      await guard()?.(req.raw, streamId);
      if (registry.active(streamId) === null) await registry.acquire(streamId); // cluster: pulled from its node first
      const mux = service.muxer(streamId);
      await firstSegment(mux);
      const keep = Object.entries(req.query).filter(([k, v]) => !k.startsWith('_HLS_') && typeof v === 'string') as Array<[string, string]>;
      const query = keep.length === 0 ? '' : `?${new URLSearchParams(keep).toString()}`;
      const t = registry.get(streamId)?.tracks ?? {};
      const codecs = [t.video && codecParameter({ codec: t.video.codec, config: t.video.config.payload }, t.video.codecString),
        t.audio && codecParameter({ codec: t.audio.codec, config: t.audio.config.payload }, t.audio.codecString)].filter((c): c is string => typeof c === 'string');
      const meta = registry.get(streamId)?.meta ?? {};
      const dim = (x: unknown) => (typeof x === 'number' ? x : undefined);
      const host = req.headers.host ?? 'localhost';
      const body = renderLlDashMpd(mux, {
        codecs, width: dim(meta.width), height: dim(meta.height), query: xmlAttr(query),
        timeUrl: xmlAttr(`${req.protocol}://${host}/live/time`), targetLatencyMs: DASH_TARGET_LATENCY_MS,
        // Live ABR: one Representation per transcoded rendition.
        renditions: service.abr.renditions(streamId).map((r) => ({ id: r.rung.name, codecs: r.codecs.length > 0 ? r.codecs : codecs, width: r.rung.width, height: r.rung.height, bandwidth: r.mux!.peakBitrate, prefix: `${r.rung.name}/`, run: r.mux!.run })),
      });
      return reply.type('application/dash+xml').header('Cache-Control', 'public, max-age=0').send(body);
    };
    app.get('/live/:streamId/manifest.mpd', (req: Req, reply: FastifyReply) => mpd(req, reply).catch(uncacheable));
  };
}
