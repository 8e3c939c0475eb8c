/**
 * The RTMP listener (`rtmp.host`/`rtmp.port`, default 1935; `strom serve --rtmp-port N`). It owns
 * the TCP server and the set of live sessions so `close()` can end every one of them: a stopped
 * server leaves no sockets, timers or listeners behind.
 */
import net from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import { RtmpSession } from './rtmp-session.js';

/** A running (or stopped) RTMP listener. */
export interface RtmpServer {
  /** Bind `rtmp.host` (default `host`) and `rtmp.port`; resolves to the bound port. */
  listen(): Promise<number>;
  /** Stop accepting and close every session. */
  close(): Promise<void>;
  /** Sessions currently open (tests, metrics). */
  sessions(): number;
  /** Bound port, or null before `listen`. */
  port(): number | null;
}

/** Create the RTMP listener over a stream registry. */
export function createRtmpServer(config: Config, registry: StreamRegistry, log: Logger): RtmpServer {
  const sessions = new Set<RtmpSession>();
  const rlog = log.child({ component: 'rtmp' });
  const server = net.createServer((socket) => {
    const s = new RtmpSession(socket, config, registry, rlog, (done) => sessions.delete(done));
    sessions.add(s);
  });
  server.on('error', (err) => rlog.error({ err }, 'rtmp listener error'));
  let bound: number | null = null;
  return {
    listen() {
      return new Promise((resolve, reject) => {
        const onError = (err: Error) => reject(err);
        server.once('error', onError);
        server.listen(config.rtmp.port, config.rtmp.host ?? config.host, () => {
          server.off('error', onError);
          const addr = server.address();
          bound = typeof addr === 'object' && addr ? addr.port : config.rtmp.port;
          rlog.info({ port: bound }, 'RTMP listening');
          resolve(bound);
        });
      });
    },
    close() {
      for (const s of [...sessions]) {
        s.close('server shutting down');
        s.destroy();
      }
      return new Promise((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
      });
    },
    sessions: () => sessions.size,
    port: () => bound,
  };
}
