/**
 * WHEP playback (draft-ietf-wish-whep §4): `POST /live/<streamId>/whep` with the viewer's SDP offer
 * (recvonly audio/video) → 201 with the answer, `Location: /whep/<id>`, `ETag`, ice-server `Link`s.
 * Every live stream can be played this way, RTMP-published ones included (their AAC is asked from
 * the audio bridge as Opus). The live playback guard applies as for HTTP-FLV: a signed stream
 * needs `?token=` or a Bearer playback token. 404 when the stream is not live.
 */
import type { FastifyInstance } from 'fastify';
import { fail, isStromError } from '../../errors.js';
import { LIVE_STREAM_ID } from '../stream/stream-registry.js';
import type { LivePlaybackGuard } from '../../auth/playback-guard.js';
import { createPeer, iceServerLinks } from './peer-factory.js';
import { preflight, sdpBody } from './webrtc-http.js';
import type { WebRtcService } from './webrtc-service.js';
import { WhepSession } from './whep-session.js';
import { created, negotiate } from './negotiate.js';

/** Register POST/OPTIONS /live/:streamId/whep. */
export function whepRoutes(app: FastifyInstance, svc: WebRtcService, guard: () => LivePlaybackGuard | null): void {
  const { table, registry, config, metrics } = svc;
  type Req = { Params: { streamId: string } };
  app.options<Req>('/live/:streamId/whep', async (_req, reply) => preflight(reply, 'POST, OPTIONS'));
  app.post<Req>('/live/:streamId/whep', async (req, reply) => {
    const { streamId } = req.params;
    if (!LIVE_STREAM_ID.test(streamId)) throw fail('LIVE_STREAM_NOT_FOUND', streamId);
    const sdp = sdpBody(req.headers['content-type'], req.body, 'application/sdp');
    await guard()?.(req.raw, streamId);
    const stream = registry.active(streamId) ?? (await registry.acquire(streamId)); // cluster: pulled from its node
    if (stream === null) throw fail('LIVE_STREAM_NOT_FOUND', streamId);
    table.reserve();
    try {
      svc.prepare(streamId); // hub reader, audio bridge and GOP cache get ready while ICE/DTLS run
    } catch (err) {
      table.release();
      throw err;
    }
    const pc = createPeer(config.webrtc);
    const s = new WhepSession(streamId, pc, (x) => svc.join(x), config.webrtc, metrics, svc.log, (x) => table.delete(x));
    try {
      const v = stream.tracks.video;
      const profile = v?.codec === 'avc' ? v.config.payload[1] : undefined; // AVCDecoderConfigurationRecord.AVCProfileIndication
      const answer = await negotiate(pc, sdp, 'sendonly', config.webrtc, metrics.stats, async () => {
        await s.attachSenders();
        if (!s.hasMedia) throw fail('WEBRTC_UNSUPPORTED_CODEC', 'audio/video', 'no receivable m-line');
      }, profile);
      table.add(s);
      s.watch();
      svc.log.info({ sessionId: s.id, streamId, remote: req.ip }, 'whep viewer accepted');
      created(reply, s, `/whep/${s.id}`, answer, iceServerLinks(config.webrtc));
    } catch (err) {
      if (!isStromError(err)) svc.log.error({ err, streamId }, 'whep setup failed');
      s.close(isStromError(err) ? err.message : 'setup failed');
      throw err;
    } finally {
      table.release();
    }
  });
}
