/**
 * The RTSP service (`rtsp.enabled`, `rtsp.port`; `strom serve --rtsp-port N`): cameras and
 * encoders publish into the live hub (ANNOUNCE/RECORD), players read any live stream
 * (DESCRIBE/PLAY), with RTP interleaved in the TCP connection or over the shared UDP port pair
 * (rtsp-udp.ts). Connections are bounded (`rtsp.maxConnections`: more are closed at accept) and
 * connections or sessions idle longer than `rtsp.sessionTimeoutMs` are closed by a sweep.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import { RtspAccess, type StreamKeyLookup } from './rtsp-access.js';
import { RtspAuth } from './rtsp-auth.js';
import { RtspConnection } from './rtsp-connection.js';
import { newRtspStats, RtspMetrics, type RtspStats } from './rtsp-stats.js';
import { RtspUdp } from './rtsp-udp.js';

/** A running (or stopped) RTSP service. */
export interface RtspServer {
  /** Bind TCP (and UDP with `rtsp.udp`); resolves to the TCP port. */
  listen(): Promise<number>;
  close(): Promise<void>;
  port(): number | null;
  /** The bound RTP/RTCP UDP ports, or null. */
  udpPorts(): { rtpPort: number; rtcpPort: number } | null;
  connections(): number;
  readonly stats: RtspStats;
  readonly metrics: RtspMetrics;
  /** Install the stream id → key lookup Digest publishers are checked with (the metadata store's). */
  setKeyLookup(fn: StreamKeyLookup): void;
}

/** Create the RTSP service over the stream registry. */
export function createRtspServer(config: Config, registry: StreamRegistry, log: Logger): RtspServer {
  const rlog = log.child({ component: 'rtsp' });
  const cfg = config.rtsp;
  const host = cfg.host ?? config.host;
  const stats = newRtspStats();
  const open = new Set<RtspConnection>();
  // `live.staticKeys` pairs (streamId:key, validated by the registry's resolver) until the store's lookup is installed
  const staticKeys = new Map(config.live.staticKeys.map((p): [string, string] => [p.slice(0, p.indexOf(':')), p.slice(p.indexOf(':') + 1)]));
  let keyOf: StreamKeyLookup = async (id) => staticKeys.get(id) ?? null;
  const access = new RtspAccess(registry, new RtspAuth(), () => keyOf, stats);
  const udp = cfg.udp ? new RtspUdp(host) : null;
  let bound: number | null = null;
  let sweep: NodeJS.Timeout | null = null;

  const server = net.createServer((socket) => {
    if (open.size >= cfg.maxConnections) {
      rlog.warn({ remote: socket.remoteAddress, limit: cfg.maxConnections }, 'rtsp connection refused: rtsp.maxConnections reached');
      socket.destroy();
      return;
    }
    stats.connections++;
    const clog = rlog.child({ remote: `${socket.remoteAddress}:${socket.remotePort}` });
    const conn = new RtspConnection(socket, { config: cfg, registry, access, udp, stats, log: clog }, clog, (c) => {
      if (open.delete(c)) stats.connections--;
    });
    open.add(conn);
  });
  server.on('error', (err) => rlog.error({ err }, 'rtsp listener error'));

  return {
    stats,
    metrics: new RtspMetrics(stats, () => udp?.stray ?? 0),
    async listen() {
      if (udp !== null) await udp.listen(cfg.rtpPort, cfg.rtcpPort);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(cfg.port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      bound = (server.address() as net.AddressInfo).port;
      sweep = setInterval(() => {
        const now = Date.now();
        // A connection without a session is held to the same limit: an idle socket must not keep a slot of rtsp.maxConnections.
        for (const c of open) if (now - c.lastActivity() > cfg.sessionTimeoutMs) c.close(`${c.session === null ? 'connection' : 'session'} idle for ${cfg.sessionTimeoutMs} ms without a request or packet`);
      }, Math.max(250, Math.min(5_000, cfg.sessionTimeoutMs / 4)));
      sweep.unref();
      rlog.info({ port: bound, udp: udp?.serverPorts() ?? null }, 'RTSP listening');
      return bound;
    },
    async close() {
      if (sweep !== null) clearInterval(sweep);
      sweep = null;
      for (const c of [...open]) c.close('server shutting down');
      udp?.close();
      if (bound !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
      bound = null;
    },
    port: () => bound,
    udpPorts: () => (bound === null ? null : udp?.serverPorts() ?? null),
    connections: () => open.size,
    setKeyLookup(fn) {
      keyOf = async (id) => (await fn(id)) ?? staticKeys.get(id) ?? null; // hand-configured keys still work, as for the key resolver
    },
  };
}
