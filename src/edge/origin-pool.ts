/**
 * The origins an edge pulls from (`edge.origins`): one undici Pool per origin (keep-alive,
 * at most `edge.upstreamConnections` connections each), a health check per origin, and failover.
 *
 * - Order: origins are tried in their configured order, healthy ones first; an unhealthy origin is
 *   still tried last, so a wrong health verdict never makes the edge refuse what it could serve.
 * - Failover: a connection error, a timeout before the response head, or 502/503/504 moves the
 *   request to the next origin. Once a response head is accepted the request stays on that origin
 *   (its body may already be flowing to viewers).
 * - Health: `GET /healthz` every `edge.healthIntervalMs`; a failed request marks its origin
 *   unhealthy at once, the next good check marks it healthy again.
 * undici rather than node:http: its Pool bounds and reuses connections and parses responses with
 * llhttp in wasm without per-request socket bookkeeping on our side.
 */
import { Pool, errors as undiciErrors, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { fail } from '../errors.js';

/** One origin: its base URL, connection pool and health. */
export class Origin {
  healthy = true;
  /** Why the last request or check failed (shown in logs and /readyz). */
  lastError: string | null = null;
  /** Requests sent and failed, for metrics. */
  requests = 0;
  failures = 0;

  constructor(readonly url: string, readonly pool: Pool) {}
}

/** Settings of the origin pool (from `edge.*`). */
export interface OriginPoolOptions {
  connections: number;
  healthIntervalMs: number;
  /** Time allowed for a response head (blocking requests add their hold time). */
  timeoutMs: number;
}

/** A request to the origin. */
export interface OriginRequest {
  path: string;
  method?: 'GET' | 'HEAD';
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Wait this much longer than `timeoutMs` for the head (LL-HLS blocking requests). */
  extraWaitMs?: number;
}

/** A response head accepted from one origin; `body` must be consumed or destroyed. */
export interface OriginResponse {
  origin: Origin;
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
}

const RETRY_STATUS = new Set([502, 503, 504]);

/** The edge's origins with failover and health checks. */
export class OriginPool {
  readonly origins: Origin[];
  private timer: NodeJS.Timeout | null = null;

  constructor(urls: string[], private readonly o: OriginPoolOptions, private readonly log: Logger) {
    if (urls.length === 0) throw fail('CONFIG_INVALID', 'edge.origins', urls, 'an edge needs at least one origin URL (strom edge --origin http://origin:8080)');
    this.origins = urls.map((u) => {
      let base: URL;
      try {
        base = new URL(u);
      } catch {
        throw fail('CONFIG_INVALID', 'edge.origins', u, 'expected an absolute http:// or https:// URL');
      }
      if (base.protocol !== 'http:' && base.protocol !== 'https:') throw fail('CONFIG_INVALID', 'edge.origins', u, 'expected an http:// or https:// URL');
      return new Origin(base.origin, new Pool(base.origin, { connections: o.connections, keepAliveTimeout: 30_000, pipelining: 1, connect: { timeout: Math.min(o.timeoutMs, 5_000) } }));
    });
  }

  /** Origins in the order a request tries them: healthy first, each group in configured order. */
  candidates(): Origin[] {
    const healthy = this.origins.filter((x) => x.healthy);
    return healthy.length === this.origins.length ? this.origins : [...healthy, ...this.origins.filter((x) => !x.healthy)];
  }

  /** The first healthy origin's URL (for components that connect on their own, like the live relay). */
  preferred(): Origin {
    return this.candidates()[0]!;
  }

  /**
   * Send `req` to the first origin that answers (see the header for the failover rules). Rejects
   * with EDGE_ORIGIN_UNREACHABLE when none gave a usable response head; when every origin
   * answered 502/503/504 the last such response is returned.
   */
  async request(req: OriginRequest): Promise<OriginResponse> {
    const reasons: string[] = [];
    let last: OriginResponse | null = null;
    for (const origin of this.candidates()) {
      if (req.signal?.aborted) break;
      origin.requests++;
      try {
        const r = await origin.pool.request({
          path: req.path,
          method: req.method ?? 'GET',
          headers: req.headers,
          signal: req.signal,
          headersTimeout: this.o.timeoutMs + (req.extraWaitMs ?? 0),
          bodyTimeout: this.o.timeoutMs,
        });
        const res: OriginResponse = { origin, status: r.statusCode, headers: r.headers, body: r.body };
        if (!RETRY_STATUS.has(r.statusCode)) return res;
        reasons.push(`${origin.url}: ${r.statusCode}`);
        if (last) last.body.destroy();
        last = res;
      } catch (err) {
        if (req.signal?.aborted) throw err;
        origin.failures++;
        this.markFailed(origin, err as Error);
        reasons.push(`${origin.url}: ${describe(err as Error)}`);
      }
    }
    if (last) return last;
    throw fail('EDGE_ORIGIN_UNREACHABLE', req.path, reasons.join('; ') || 'request aborted');
  }

  /** A request to `origin` failed outside the pool (a live relay connection): skip it until it recovers. */
  markFailed(origin: Origin, err: Error): void {
    origin.lastError = describe(err);
    if (origin.healthy) this.log.warn({ origin: origin.url, err: origin.lastError }, 'origin unhealthy');
    origin.healthy = false;
  }

  /** Start the periodic health checks. */
  start(): void {
    const tick = () => void Promise.all(this.origins.map((x) => this.check(x)));
    tick();
    this.timer = setInterval(tick, this.o.healthIntervalMs);
    this.timer.unref();
  }

  private async check(origin: Origin): Promise<void> {
    try {
      const r = await origin.pool.request({ path: '/healthz', method: 'GET', headersTimeout: this.o.healthIntervalMs, bodyTimeout: this.o.healthIntervalMs });
      await r.body.dump();
      if (r.statusCode !== 200) throw new Error(`/healthz answered ${r.statusCode}`);
      if (!origin.healthy) this.log.info({ origin: origin.url }, 'origin healthy again');
      origin.healthy = true;
      origin.lastError = null;
    } catch (err) {
      this.markFailed(origin, err as Error);
    }
  }

  /** Stop the checks and close every connection. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all(this.origins.map((x) => x.pool.destroy().catch(() => undefined)));
  }
}

function describe(err: Error): string {
  if (err instanceof undiciErrors.HeadersTimeoutError) return 'no response head in time';
  if (err instanceof undiciErrors.ConnectTimeoutError) return 'connect timeout';
  const code = (err as Error & { code?: string }).code;
  return code ? `${code} ${err.message}` : err.message;
}
