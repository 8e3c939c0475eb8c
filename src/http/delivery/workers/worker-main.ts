/**
 * Entry point of a delivery worker process, forked by `DeliveryWorkers`. It runs the same
 * delivery origin as the main (`createDelivery` over the same data directory) on connections the
 * main hands over, with its own hot cache (a 1/processes share of `delivery.cacheBytes`, so the
 * setting stays the memory bound of the whole server) and its own playback guard fed by the main
 * over IPC (signed ids, signing keys, asset invalidations) — no database handle here. It reads
 * media through its own client of the same storage (`storage.kind`: the data directory or the bucket).
 *
 * Per-process limits: the media rate limit and the per-token stream cap are divided by the number
 * of processes (rounded up): a client's connections are spread round-robin, so the sum over
 * processes is the configured budget without an IPC round trip per request. In cluster mode
 * (`sharedLimits`) each process holds the whole budget instead and reports its usage to the main
 * every `rateLimit.syncMs`; the main counts it cluster-wide and answers with the cluster's view
 * (src/cluster/shared-limits.ts). Metrics are kept in a
 * local prom-client registry the main merges at scrape time; CMCD records go to the main's QoE
 * tracker in batches; sampled access-log lines are written here, tagged with the worker index.
 *
 * A later request on a handed-off connection that is not a delivery request (a browser reusing the
 * connection for an API call) goes back to the main with the socket: its head is re-serialised from
 * the parsed request (RFC 9112 §3, field order and case kept). A request with a body cannot be
 * replayed that way and is answered 421 Misdirected Request with `Connection: close` (RFC 9110
 * §15.5.20: the client may retry it, whatever the method, on a new connection — which the main keeps).
 */
import http from 'node:http';
import type { Socket } from 'node:net';
import type { Config } from '../../../config.js';
import { createLogger } from '../../../logger.js';
import { fail } from '../../../errors.js';
import { createDelivery } from '../delivery-handler.js';
import { createPlaybackGuard, PlaybackPolicy } from '../../../auth/playback-guard.js';
import { PlaybackTokens } from '../../../auth/playback-tokens.js';
import { limitParticipant, MediaRateLimiter, StreamCap } from '../../../auth/rate-limits.js';
import type { SigningKeysRepo } from '../../../store/db/signing-keys-repo.js';
import { StromMetrics } from '../../../observability/metrics.js';
import { MediaAccounting } from '../../../observability/media-accounting.js';
import { LeanHttp1 } from './lean-http1.js';
import { answerClientError } from '../../client-error.js';
import { clientIp } from '../../../auth/playback-tokens.js';
import { MAX_QOE_BATCH, type FromWorker, type QoeRecord, type ToWorker, type WorkerKey } from './ipc-protocol.js';

/** Metric families a worker reports (everything else is the main's alone). */
const REPORTED = /^strom_(http_|hot_cache_|media_|storage_|content_key_)/;

function send(msg: FromWorker, handle?: Socket): void {
  if (process.connected) process.send!(msg, handle as never);
}

function start(init: Extract<ToWorker, { type: 'init' }>): void {
  const base: Config = init.config;
  const share = (n: number) => (n === 0 || init.sharedLimits ? n : Math.max(1, Math.ceil(n / init.processes)));
  const config: Config = { ...base, delivery: { ...base.delivery, cacheBytes: Math.floor(base.delivery.cacheBytes / init.processes) } };
  const root = createLogger(config.logLevel);
  const log = root.child({ component: 'delivery-worker', worker: init.index });
  const delivery = createDelivery(config, log);

  // Playback guard state, fed by the main (ipc-protocol.ts).
  const policy = new PlaybackPolicy();
  for (const id of init.signedIds) policy.set(id, 'signed');
  // The worker never loads keys from the store (it has none): the main pushes them, so `repo` is unused.
  const tokens = new PlaybackTokens({} as SigningKeysRepo, config.playback.tokenCacheEntries);
  const addKey = (k: WorkerKey) => tokens.addKey({ kid: k.kid, secret: k.secret, alg: 'HS256', created_at: 0, revoked_at: null });
  for (const k of init.keys) addKey(k);
  const limiter = new MediaRateLimiter(share(config.rateLimit.media.perMinute), config.rateLimit.media.maxClients);
  const cap = new StreamCap(share(config.rateLimit.maxStreamsPerToken));
  delivery.setGuard(createPlaybackGuard({ policy, tokens, limiter, cap }));
  const shared = init.sharedLimits ? limitParticipant(limiter, cap) : null;
  if (shared) {
    const report = setInterval(() => send({ type: 'usage', ...shared.report() }), config.rateLimit.syncMs);
    report.unref();
  }
  delivery.setPrivacy((id) => policy.isSigned(id));
  if (init.contentSecret !== null) delivery.setContentSecret(Buffer.from(init.contentSecret, 'base64url'));

  // Observability: local counters (merged by the main at scrape), CMCD to the main, sampled access log.
  const metrics = new StromMetrics({ defaultMetrics: false });
  const sockets = new Set<Socket>();
  delivery.storage.metrics.attach(metrics.registry); // this process's reads from media storage
  delivery.attachProtectionMetrics(metrics.registry); // its key and license answers
  metrics.sources.hotCache = () => delivery.catalog.hot.stats();
  metrics.sources.mediaInFlight = () => delivery.inFlight();
  metrics.sources.openConnections = () => sockets.size + lean.size();
  let qoe: QoeRecord[] = [];
  const media = new MediaAccounting(metrics, root.child({ component: 'access', worker: init.index }), config.log.accessMediaEvery, (cmcd, id) => {
    if (qoe.length < MAX_QOE_BATCH) qoe.push({ cmcd: cmcd as Record<string, unknown>, id });
  });
  const lean = new LeanHttp1({
    delivery,
    keepAliveMs: config.timeouts.keepAliveMs,
    idleMs: config.timeouts.idleMs,
    isPublic: (id) => !policy.isSigned(id),
    admit: (ip, now) => limiter.take(clientIp(ip), now),
    done: (method, path, status, bytes, ms) => media.lean(method, path, status, bytes, ms),
    fallback(socket, rest) {
      if (rest.length > 0) socket.unshift(rest);
      server.emit('connection', socket);
      socket.resume();
    },
  });
  delivery.setObserver(media.observer);
  const flushQoe = setInterval(() => {
    if (qoe.length === 0) return;
    send({ type: 'qoe', records: qoe });
    qoe = [];
  }, 250);
  flushQoe.unref();

  const server = http.createServer({
    headersTimeout: config.timeouts.headersMs,
    requestTimeout: config.timeouts.requestMs,
    keepAliveTimeout: config.timeouts.keepAliveMs,
    connectionsCheckingInterval: Math.max(25, Math.min(30_000, Math.floor(config.timeouts.headersMs / 4))),
  }, (req, res) => {
    if (stopping) {
      // Finishing in-flight responses: this one is answered, then its connection closes.
      inFlight.add(req.socket);
      res.once('close', () => inFlight.delete(req.socket));
      res.shouldKeepAlive = false;
    }
    if (!delivery.handle(req, res)) handBack(req, res);
  });
  /** Connections with a response being written (tracked once stopping, when it matters). */
  const inFlight = new Set<Socket>();
  server.setTimeout(config.timeouts.idleMs);
  server.on('clientError', (err: Error, socket: Socket) => answerClientError(err, socket, log, config.timeouts));
  server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => giveBack(req, socket, head));

  /** Not a delivery request: return the connection to the main, or 421 when the request has a body. */
  function handBack(req: http.IncomingMessage, res: http.ServerResponse): void {
    const hasBody = req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    if (hasBody || stopping) {
      const err = fail('MISDIRECTED_REQUEST', req.method ?? '', (req.url ?? '/').split('?')[0]!);
      log.info({ method: req.method, path: (req.url ?? '/').split('?')[0]!.slice(0, 256) }, 'non-delivery request with a body (or while stopping) on a worker connection: 421');
      const body = JSON.stringify(err.toJSON());
      res.writeHead(421, ['Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body)), 'Connection', 'close', 'Cache-Control', 'no-store']);
      res.end(body);
      return;
    }
    giveBack(req, req.socket, null);
  }

  function giveBack(req: http.IncomingMessage, socket: Socket, rest: Buffer | null): void {
    let head = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
    const raw = req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) head += `${raw[i]}: ${raw[i + 1]}\r\n`;
    head += '\r\n';
    if (rest !== null && rest.length > 0) head += rest.toString('latin1');
    sockets.delete(socket);
    send({ type: 'back', head }, socket);
  }

  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });

  let stopping = false;
  function stop(graceMs: number): void {
    if (stopping) return;
    stopping = true;
    lean.close();
    // The server never listened (connections arrive over IPC), so neither its 'close' nor
    // closeIdleConnections() knows which responses are in flight: a connection is idle when it has
    // no response being written (`_httpMessage`, or one started since stopping); exit when none is left.
    const sweep = () => {
      for (const s of sockets) {
        const msg = (s as Socket & { _httpMessage?: { writableFinished: boolean } | null })._httpMessage; // Node's current response on the socket (undocumented, stable since v0.x)
        if (!inFlight.has(s) && (msg == null || msg.writableFinished)) s.destroy();
      }
      if (sockets.size === 0 && lean.size() === 0) process.exit(0);
    };
    setInterval(sweep, 50);
    sweep();
    setTimeout(() => {
      for (const s of sockets) s.destroy();
      process.exit(0);
    }, graceMs).unref();
  }

  process.on('message', (msg: ToWorker, handle?: Socket) => {
    switch (msg.type) {
      case 'conn':
        if (!handle) return;
        if (stopping) return void handle.destroy();
        lean.serve(handle, Buffer.from(msg.head, 'latin1'));
        return;
      case 'visibility':
        return policy.set(msg.id, msg.signed ? 'signed' : null);
      case 'key-added':
        return addKey(msg.key);
      case 'key-revoked':
        return tokens.revokeKey(msg.kid);
      case 'invalidate':
        return msg.assetId === null ? delivery.catalog.invalidateAll() : delivery.catalog.invalidateAsset(msg.assetId);
      case 'limits':
        return shared?.apply(msg);
      case 'scrape':
        void metrics.registry.getMetricsAsJSON().then((all) => {
          send({ type: 'metrics', id: msg.id, requests: media.responses, metrics: all.filter((m) => REPORTED.test(m.name)) });
        });
        return;
      case 'stop':
        return stop(msg.graceMs);
      case 'init':
        return;
    }
  });
  // The main is gone (crashed or killed): finish what is in flight and leave, never orphaned.
  process.on('disconnect', () => stop(config.timeouts.shutdownMs));
  // A terminal's Ctrl-C reaches the whole process group; the main's `stop` decides.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => stop(config.timeouts.shutdownMs));
  send({ type: 'ready', pid: process.pid });
}

process.once('message', (msg: ToWorker) => {
  if (msg.type === 'init') start(msg);
});
