/**
 * The SRT service (`srt.enabled`, `srt.port`; `strom serve --srt-port N`): publishers and readers
 * over one UDP port, chosen by the caller's stream id (stream-id.ts). A publisher's MPEG-TS feeds
 * the live hub (srt-publish.ts); a reader gets any live stream as MPEG-TS (srt-play.ts). Access is
 * decided during the handshake, so a refused caller gets the SRT rejection code for its reason
 * (1403 unknown key, 1404 not live, 1409 already published, 1010 wrong passphrase…) and never a
 * connection. The transport is Strom's own (src/live/srt/protocol, see its README in docs/LIVE.md
 * "SRT"): it runs on the event loop with the hub instead of libsrt's threads behind a native
 * binding, and is tested against libsrt's own tools.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { isStromError } from '../../errors.js';
import { LIVE_STREAM_ID, type StreamRegistry } from '../stream/stream-registry.js';
import type { SrtConnection } from './protocol/connection.js';
import { REJECT, REJECT_AC } from './protocol/handshake.js';
import { SrtListener, type AcceptDecision, type AcceptRequest } from './protocol/listener.js';
import { SrtPublishSession } from './srt-publish.js';
import { startSrtPlay } from './srt-play.js';
import { newSrtStats, SrtMetrics, type SrtStats } from './srt-stats.js';
import { parseStreamId } from './stream-id.js';

/** Looks up a per-stream passphrase (the live stream's own), else null for `srt.passphrase`. */
export type SrtPassphraseLookup = (streamId: string) => Promise<string | null>;

/** A running (or stopped) SRT service. */
export interface SrtServer {
  listen(): Promise<number>;
  close(): Promise<void>;
  port(): number | null;
  connections(): number;
  readonly stats: SrtStats;
  readonly metrics: SrtMetrics;
  /** Install the per-stream passphrase lookup (the metadata store's). */
  setPassphraseLookup(fn: SrtPassphraseLookup): void;
}

type Plan = { mode: 'publish'; streamId: string; backup: boolean } | { mode: 'request'; streamId: string };

/** Create the SRT service over the stream registry. */
export function createSrtServer(config: Config, registry: StreamRegistry, log: Logger): SrtServer {
  const slog = log.child({ component: 'srt' });
  const stats = newSrtStats();
  const plans = new WeakMap<AcceptRequest, Plan>();
  const open = new Set<SrtConnection>();
  let passphraseOf: SrtPassphraseLookup = async () => null;
  let bound: number | null = null;

  const refuse = (code: number, reason: string): AcceptDecision => ({ accept: false, code, reason });

  async function decide(req: AcceptRequest): Promise<AcceptDecision> {
    const parsed = parseStreamId(req.streamId);
    if ('error' in parsed) return refuse(parsed.code, parsed.error);
    if (parsed.mode === 'publish') {
      let target: { streamId: string } | null;
      try {
        target = await registry.resolveKey(parsed.name);
      } catch (err) {
        if (isStromError(err)) return refuse(REJECT_AC.FORBIDDEN, err.message);
        slog.error({ err }, 'srt: stream key lookup failed');
        return refuse(REJECT_AC.UNAVAILABLE, 'stream key lookup failed');
      }
      if (target === null) return refuse(REJECT_AC.FORBIDDEN, 'unknown stream key');
      if (registry.refuses(target.streamId, parsed.backup)) return refuse(REJECT_AC.CONFLICT, `live stream ${target.streamId} already has a ${parsed.backup ? 'backup ' : ''}publisher`);
      plans.set(req, { mode: 'publish', streamId: target.streamId, backup: parsed.backup });
      return { accept: true, passphrase: (await passphraseOf(target.streamId)) ?? config.srt.passphrase };
    }
    const streamId = parsed.name;
    if (!LIVE_STREAM_ID.test(streamId)) return refuse(REJECT_AC.BAD_REQUEST, `bad live stream id ${JSON.stringify(streamId.slice(0, 64))}`);
    const guard = registry.playbackGuard;
    if (guard !== null) {
      // The guard reads an HTTP request; SRT has none, so it gets the fields it uses (as RTMP play does).
      const q = parsed.token === null ? '' : `?token=${encodeURIComponent(parsed.token)}`;
      const fake = { method: 'GET', url: `/live/${streamId}${q}`, headers: {}, socket: { remoteAddress: req.peer.slice(0, req.peer.lastIndexOf(':')) } } as unknown as IncomingMessage;
      try {
        await guard(fake, streamId);
      } catch (err) {
        return refuse(REJECT_AC.UNAUTHORIZED, isStromError(err) ? err.message : 'playback refused');
      }
    }
    try {
      if ((await registry.acquire(streamId)) === null) return refuse(REJECT_AC.NOT_FOUND, `live stream ${streamId} is not live`);
    } catch (err) {
      return refuse(REJECT_AC.UNAVAILABLE, isStromError(err) ? err.message : 'stream unavailable');
    }
    plans.set(req, { mode: 'request', streamId });
    return { accept: true, passphrase: (await passphraseOf(streamId)) ?? config.srt.passphrase };
  }

  function accepted(conn: SrtConnection, req: AcceptRequest): void {
    const plan = plans.get(req);
    if (plan === undefined) return conn.close('internal error: no plan for an accepted caller');
    stats.accepted++;
    open.add(conn);
    const clog = slog.child({ streamId: plan.streamId, peer: req.peer, role: plan.mode });
    if (plan.mode === 'publish') {
      stats.publishers++;
      conn.whenClosed(() => stats.publishers--);
      try {
        new SrtPublishSession(conn, plan.streamId, plan.backup, registry, stats, clog); // lives as long as the connection
      } catch (err) {
        conn.close(isStromError(err) ? err.message : String(err));
      }
    } else {
      stats.readers++;
      conn.whenClosed(() => stats.readers--);
      try {
        startSrtPlay(conn, registry, plan.streamId, stats, clog);
      } catch (err) {
        conn.close(isStromError(err) ? err.message : String(err));
      }
    }
    conn.whenClosed((reason) => {
      open.delete(conn);
      clog.info({ reason, rttUs: conn.rttUs }, 'srt connection closed');
    });
    clog.info({ latencyMs: conn.params.rcvLatencyMs, encrypted: conn.params.cipher !== null }, 'srt connection accepted');
  }

  const listener = new SrtListener({
    host: config.srt.host ?? config.host,
    port: config.srt.port,
    latencyMs: config.srt.latencyMs,
    windowPackets: config.srt.windowPackets,
    peerIdleTimeoutMs: config.srt.peerIdleTimeoutMs,
    maxConnections: config.srt.maxConnections,
    decide,
    accepted,
    refused(peer, reason, code) {
      stats.refused[String(code)] = (stats.refused[String(code)] ?? 0) + 1;
      slog.info({ peer, code, reason }, 'srt caller refused');
      if (code === REJECT.BADSECRET || code === REJECT.UNSECURE) registry.events.emit('publish.rejected', { key: '(srt)', remote: peer, reason });
    },
  });

  const metrics = new SrtMetrics(stats, () => {
    let recovered = stats.recovered;
    let lost = stats.lost;
    for (const c of open) {
      recovered += c.receiver.stats.recovered;
      lost += c.receiver.stats.dropped;
    }
    return { garbage: listener.stats.garbage, stray: listener.stats.stray, recovered, lost };
  });

  return {
    stats,
    metrics,
    async listen() {
      bound = await listener.listen();
      slog.info({ port: bound }, 'SRT listening');
      return bound;
    },
    close: () => listener.close(),
    port: () => bound,
    connections: () => listener.connections(),
    setPassphraseLookup(fn) {
      passphraseOf = fn;
    },
  };
}
