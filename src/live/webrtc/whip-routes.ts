/**
 * WHIP ingest (RFC 9725): `POST /whip` with `Authorization: Bearer <stream key>` (what OBS 30+
 * sends) and an SDP offer → 201 Created with the SDP answer, `Location: /whip/<id>` (§4.2), a strong
 * `ETag` (§4.3.1) and `Link: …; rel="ice-server"` for configured STUN/TURN (§4.6). Errors: 415 for a
 * non-`application/sdp` body, 401 without a Bearer token, 403 for an unknown key, 400 for a
 * malformed offer, 422 when no offered codec is supported (H.264 packetization-mode=1, Opus),
 * 409 when the stream has a publisher and `live.takeover` is reject, 503 + Retry-After when
 * `webrtc.maxSessions` are open. `POST /whip?backup=1` publishes a backup (standby while the
 * primary is live, docs/LIVE.md "Backup ingest"). Redirects (307, §4.5) are never issued: this origin ingests itself.
 */
import type { FastifyInstance } from 'fastify';
import { fail, failWith, isStromError } from '../../errors.js';
import { created, negotiate } from './negotiate.js';
import { createPeer, iceServerLinks } from './peer-factory.js';
import { preflight, sdpBody } from './webrtc-http.js';
import type { WebRtcService } from './webrtc-service.js';
import { WhipPublisher } from './whip-ingest.js';

/** Register POST/OPTIONS /whip. */
export function whipRoutes(app: FastifyInstance, svc: WebRtcService): void {
  const { table, registry, config, metrics } = svc;
  app.options('/whip', async (_req, reply) => preflight(reply, 'POST, OPTIONS'));
  app.post('/whip', async (req, reply) => {
    const sdp = sdpBody(req.headers['content-type'], req.body, 'application/sdp');
    const m = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
    if (!m) throw failWith('UNAUTHORIZED', { 'WWW-Authenticate': 'Bearer realm="whip"' }, 'WHIP needs Authorization: Bearer <stream key>');
    const key = m[1]!;
    const found = await registry.resolveKey(key);
    if (found === null) throw fail('LIVE_BAD_KEY', key.length > 4 ? `${key.slice(0, 4)}…` : key);
    const { streamId } = found;
    const flag = (req.query as Record<string, unknown>).backup;
    const backup = flag === '1' || flag === 'true';
    if (registry.refuses(streamId, backup)) throw fail('LIVE_PUBLISHER_ACTIVE', streamId);
    table.reserve();
    const pc = createPeer(config.webrtc);
    const remote = req.ip;
    const s = new WhipPublisher(streamId, remote, pc, registry, config.webrtc, metrics, svc.log, (x) => table.delete(x));
    s.backup = backup;
    try {
      const answer = await negotiate(pc, sdp, 'recvonly', config.webrtc, metrics.stats);
      s.publish(); // publish.start: events, webhooks, API status as for RTMP
      table.add(s);
      s.watch();
      svc.log.info({ sessionId: s.id, streamId, remote }, 'whip publish accepted');
      created(reply, s, `/whip/${s.id}`, answer, iceServerLinks(config.webrtc));
    } catch (err) {
      if (!isStromError(err)) svc.log.error({ err, streamId }, 'whip setup failed');
      else svc.log.info({ streamId, reason: err.message }, 'whip offer refused');
      s.close(isStromError(err) ? err.message : 'setup failed');
      throw err;
    } finally {
      table.release();
    }
  });
}
