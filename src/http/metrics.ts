/**
 * `GET /metrics`: the Prometheus text exposition. Served on the main port by default, or on its own
 * listener when `metrics.port` is set (then the main port has no /metrics). Who may scrape:
 * addresses matching `metrics.allow` ("all", "loopback" — the default — or CIDRs like 10.0.0.0/8),
 * and anyone else presenting a Bearer API token with the `admin` scope. Others get 401/403.
 */
import http from 'node:http';
import net from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { prometheusContentType } from 'prom-client';
import type { Config } from '../config.js';
import { isStromError, type StromError } from '../errors.js';
import { bearerToken, createApiVerifier, insufficientScope, loadApiSecret, missingToken, type ApiPrincipal } from '../auth/api-auth.js';
import { allows } from '../auth/scopes.js';
import type { StromMetrics } from '../observability/metrics.js';

/** Decide whether a client may scrape: address allow-list, else an admin API token. */
export function metricsAccess(config: Config): (ip: string | undefined, authorization: string | undefined) => Promise<StromError | null> {
  const list = new net.BlockList();
  let all = false;
  for (const entry of config.metrics.allow) {
    if (entry === 'all') all = true;
    else if (entry === 'loopback') {
      list.addSubnet('127.0.0.0', 8, 'ipv4');
      list.addAddress('::1', 'ipv6');
    } else {
      const [addr, bits] = entry.split('/');
      const type = net.isIPv6(addr!) ? 'ipv6' : 'ipv4';
      if (!net.isIP(addr!)) throw new Error(`metrics.allow: ${entry} is not an address or CIDR`);
      if (bits === undefined) list.addAddress(addr!, type);
      else list.addSubnet(addr!, Number(bits), type);
    }
  }
  let verify: ((token: string) => Promise<ApiPrincipal>) | null = null;
  return async (ip, authorization) => {
    if (all) return null;
    if (ip !== undefined) {
      const v4 = ip.startsWith('::ffff:') && net.isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
      if (list.check(v4, net.isIPv6(v4) ? 'ipv6' : 'ipv4')) return null;
    }
    try {
      const token = bearerToken(authorization);
      if (token === null) return missingToken('scraping /metrics from this address needs a Bearer token with scope admin');
      verify ??= createApiVerifier(config, loadApiSecret(config));
      const p = await verify(token);
      return allows(p.scopes, 'admin') ? null : insufficientScope('admin', p.scopes);
    } catch (err) {
      if (isStromError(err)) return err;
      throw err;
    }
  };
}

/** Register /metrics on the main Fastify app (when `metrics.port` is unset). */
export function metricsRoutes(metrics: StromMetrics, config: Config) {
  const access = metricsAccess(config);
  return async (app: FastifyInstance): Promise<void> => {
    app.get('/metrics', { logLevel: 'warn' }, async (req, reply) => {
      const denied = await access(req.raw.socket.remoteAddress, req.headers.authorization);
      if (denied) return reply.code(denied.statusCode).headers(denied.headers).send(denied.toJSON());
      return reply.type(prometheusContentType).header('cache-control', 'no-store').send(await metrics.exposition());
    });
  };
}

/** A separate listener serving only /metrics (`metrics.port`). */
export interface MetricsListener {
  listen(): Promise<number>;
  listening(): boolean;
  /** Bound port, null before listen. */
  port(): number | null;
  close(): Promise<void>;
}

/** Create the separate metrics listener. */
export function createMetricsListener(metrics: StromMetrics, config: Config, log: Logger): MetricsListener {
  const access = metricsAccess(config);
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('only GET /metrics here\n');
      return;
    }
    access(req.socket.remoteAddress, req.headers.authorization)
      .then(async (denied) => {
        if (denied) {
          res.writeHead(denied.statusCode, { ...denied.headers, 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(denied.toJSON()));
          return;
        }
        const body = await metrics.exposition();
        res.writeHead(200, { 'content-type': prometheusContentType, 'cache-control': 'no-store' }).end(req.method === 'HEAD' ? undefined : body);
      })
      .catch((err: unknown) => {
        log.error({ err }, 'metrics scrape failed');
        if (!res.headersSent) res.writeHead(500).end();
      });
  });
  return {
    listen: () => new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(config.metrics.port ?? 0, config.metrics.host ?? config.host, () => {
        const a = server.address();
        resolve(typeof a === 'object' && a ? a.port : 0);
      });
    }),
    listening: () => server.listening,
    port: () => {
      const a = server.address();
      return typeof a === 'object' && a ? a.port : null;
    },
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
