/**
 * The main process's pool of delivery workers (not the transcode pool of src/jobs). One
 * JS thread cannot answer small media requests as fast as a 2-worker nginx (docs/BENCHMARKS.md),
 * so `delivery.workers` processes are forked and the connection router hands them player
 * connections. This module owns their lifecycle and keeps them consistent with the main:
 *
 * - start: `child_process.fork` of worker-main (compiled JS, or the .ts source through tsx when the
 *   main itself runs from source), then an `init` snapshot of the playback state;
 * - routing: connection-router.ts picks the process per connection; the main's own share of player
 *   connections goes through the same lean HTTP/1.1 path (lean-http1.ts) as the workers';
 * - state: every change the main makes — asset visibility (PlaybackPolicy.set), signing keys
 *   added/revoked (PlaybackTokens), asset invalidation (FileCatalog.invalidateAsset, called on
 *   delete/replace/republish) — is wrapped here once and broadcast, so it reaches the workers
 *   within one IPC hop whoever the caller is;
 * - limits: in cluster mode each worker reports its media-limiter and stream-cap usage every
 *   `rateLimit.syncMs`; `limitParticipants()` hands those reports to the cluster sync, which
 *   answers each worker with the cluster's view;
 * - metrics: `/metrics` asks every worker for its registry at scrape time and sums it with the
 *   main's (prom-client's cluster aggregator); CMCD records feed the main's QoE tracker;
 * - crashes: a worker that exits unasked is logged and restarted with exponential backoff (its
 *   connections are lost); `stop` asks each to finish in-flight responses and waits for the exits.
 */
import { fork, type ChildProcess } from 'node:child_process';
import type http from 'node:http';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { AggregatorRegistry, Counter, Gauge, type MetricObjectWithValues, type MetricValue, type Registry } from 'prom-client';
import type { Config } from '../../../config.js';
import type { Delivery } from '../delivery-handler.js';
import type { ControlPlane } from '../../api/api.js';
import type { Observability } from '../../../observability/observability.js';
import type { Cmcd } from '../../../observability/cmcd.js';
import { installConnectionRouter, type ConnectionRouter } from './connection-router.js';
import { LeanHttp1 } from './lean-http1.js';
import { clientIp } from '../../../auth/playback-tokens.js';
import type { FromWorker, ToWorker } from './ipc-protocol.js';

const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;
/** A worker that lived this long restarts at the minimum delay again. */
const HEALTHY_AFTER_MS = 30_000;
const SCRAPE_TIMEOUT_MS = 2_000;
/** Connections in flight over one worker's IPC channel (sent, not yet acknowledged) before the main keeps new ones. */
const MAX_HANDLES_IN_FLIGHT = 64;

type AnyMetric = MetricObjectWithValues<MetricValue<string>>;

interface Slot {
  index: number;
  child: ChildProcess | null;
  pid: number | null;
  ready: boolean;
  startedAt: number;
  failures: number;
  timer: NodeJS.Timeout | null;
  /** Handles sent and not yet acknowledged (bounded by MAX_HANDLES_IN_FLIGHT). */
  sending: number;
  /** Limiter usage reported since the last cluster sync: admissions per IP, open responses per token. */
  usage: { media: Map<string, number>; streams: Array<[string, number]> };
}

/** Usage one process reports and the view it gets back (src/cluster/shared-limits.ts). */
type LimitPairs = Array<[string, number]>;

/** Per-worker figures for tests and operators. */
export interface WorkerStats {
  index: number;
  pid: number;
  /** Media responses this worker finished since it started. */
  requests: number;
}

/**
 * Make `server.close()` wait for the main's own connections only. Node 20's net.Server (lib/net.js,
 * Server#close), once a socket has been sent to a child process, asks each child still holding
 * such sockets to report them closed and then, when the last one has answered (or disconnected),
 * sets its connection count to 0 and emits 'close' — while connections the main serves itself may
 * still be writing responses. Fastify's close then resolved, the store closed and `strom serve`
 * exited with a download of its own half sent: the client got the bytes already in the kernel,
 * then a FIN, and saw a truncated body ("aborted"). When no such child is left (a crashed worker,
 * workers that exited first) nobody is asked, the count is never dropped and 'close' never comes
 * (that hung `strom serve` on SIGTERM). Neither is wanted: the count of the main's own connections
 * is already right (Node subtracts a socket when it is sent), and the connections handed to
 * workers are waited for by `DeliveryWorkers.stop()`, which resolves when every worker — which
 * exits only once its responses are done — has exited. Call right before closing the server.
 */
export function ownConnectionsOnly(server: object): void {
  // `_usingWorkers`: an undocumented field of net.Server, unchanged since Node 0.10.
  (server as { _usingWorkers?: boolean })._usingWorkers = false;
}

/** Delivery worker processes of one Strom main process. */
export class DeliveryWorkers {
  private readonly slots: Slot[];
  private router: ConnectionRouter | null = null;
  private lean: LeanHttp1 | null = null;
  private turn = 0;
  private stopping = false;
  private scrapeId = 0;
  private readonly scrapes = new Map<number, (m: { requests: number; metrics: AnyMetric[] }) => void>();
  private readonly handedOff: Counter;
  private readonly restarts: Counter;

  constructor(private readonly o: { config: Config; log: Logger; delivery: Delivery; control: ControlPlane; obs: Observability }) {
    this.slots = Array.from({ length: o.config.delivery.workers }, (_, index) => ({ index, child: null, pid: null, ready: false, startedAt: 0, failures: 0, timer: null, sending: 0, usage: { media: new Map(), streams: [] } }));
    const registers = [o.obs.metrics.registry];
    const slots = this.slots;
    new Gauge({ name: 'strom_delivery_workers', help: 'Delivery worker processes ready to take connections (delivery.workers configured)', registers, collect() {
      this.set(slots.filter((s) => s.ready).length);
    } });
    this.restarts = new Counter({ name: 'strom_delivery_worker_restarts_total', help: 'Delivery workers restarted after exiting unasked', registers });
    this.handedOff = new Counter({ name: 'strom_delivery_connections_handed_off_total', help: 'Connections the main handed to a delivery worker', registers });
    o.obs.metrics.sources.exposition = (own) => this.exposition(own);
    this.subscribeStateChanges();
  }

  /** Fork the workers and take over `server`'s connections. */
  start(server: http.Server): void {
    const { config, control, obs } = this.o;
    // The main's share of player connections goes through the same lean path as the workers'.
    const lean = (this.lean = new LeanHttp1({
      delivery: this.o.delivery,
      keepAliveMs: config.timeouts.keepAliveMs,
      idleMs: config.timeouts.idleMs,
      isPublic: (id) => !control.policy.isSigned(id),
      admit: (ip, now) => control.mediaLimiter.take(clientIp(ip), now),
      done: (method, path, status, bytes, ms) => obs.media.lean(method, path, status, bytes, ms),
      fallback: (socket, rest) => router.keep(socket, rest.length > 0 ? rest : null),
    }));
    const router = (this.router = installConnectionRouter(server, {
      ready: () => (this.stopping ? 0 : this.readyCount()),
      handOff: (socket, head) => this.handOff(socket, head),
      serveHere: (socket, head) => lean.serve(socket, head),
    }, config.timeouts.headersMs));
    for (const s of this.slots) this.spawn(s);
    const open = obs.metrics.sources.openConnections;
    obs.metrics.sources.openConnections = () => (open?.() ?? 0) + lean.size();
  }

  /** Each worker as a participant of the cluster's shared limits: its reported usage, and a way to answer it. */
  limitParticipants(): Array<{ report(): { media: LimitPairs; streams: LimitPairs }; apply(view: { media: LimitPairs; streams: LimitPairs }): void }> {
    return this.slots.map((s) => ({
      report: () => {
        const media: LimitPairs = [...s.usage.media];
        s.usage.media.clear();
        return { media, streams: s.child === null ? [] : s.usage.streams };
      },
      apply: (view) => this.post(s, { type: 'limits', media: view.media, streams: view.streams }),
    }));
  }

  /** Pids of the workers currently running. */
  pids(): number[] {
    return this.slots.flatMap((s) => (s.pid === null ? [] : [s.pid]));
  }

  /** Workers ready to take connections. */
  readyCount(): number {
    let n = 0;
    for (const s of this.slots) if (s.ready) n++;
    return n;
  }

  /** Requests served by each ready worker (asked over IPC). */
  async stats(): Promise<WorkerStats[]> {
    const out = await Promise.all(this.slots.map(async (s) => {
      const r = await this.scrape(s);
      return r === null || s.pid === null ? null : { index: s.index, pid: s.pid, requests: r.requests };
    }));
    return out.filter((x): x is WorkerStats => x !== null);
  }

  /** Ask every worker to finish its in-flight responses and exit; resolves when all have exited. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.router?.close();
    this.lean?.close();
    const graceMs = this.o.config.timeouts.shutdownMs;
    await Promise.all(this.slots.map((s) => {
      if (s.timer) clearTimeout(s.timer);
      const child = s.child;
      if (child === null || child.exitCode !== null || child.signalCode !== null) return undefined;
      return new Promise<void>((resolve) => {
        const kill = setTimeout(() => child.kill('SIGKILL'), graceMs + 2_000);
        child.once('exit', () => {
          clearTimeout(kill);
          resolve();
        });
        this.post(s, { type: 'stop', graceMs });
      });
    }));
  }

  private spawn(s: Slot): void {
    if (this.stopping) return;
    const src = import.meta.url.endsWith('.ts');
    const entry = fileURLToPath(new URL(`./worker-main.${src ? 'ts' : 'js'}`, import.meta.url));
    const child = fork(entry, [], { execArgv: src ? ['--import', import.meta.resolve('tsx')] : [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    s.child = child;
    s.sending = 0;
    s.pid = child.pid ?? null;
    s.ready = false;
    s.startedAt = Date.now();
    const log = this.o.log.child({ component: 'delivery-workers', worker: s.index, pid: child.pid });
    child.on('message', (msg: FromWorker, handle?: Socket) => this.onMessage(s, msg, handle));
    child.on('error', (err) => log.warn({ err }, 'delivery worker IPC error'));
    child.once('exit', (code, signal) => {
      s.ready = false;
      s.child = null;
      s.pid = null;
      s.usage = { media: new Map(), streams: [] }; // its open responses died with it
      if (this.stopping) return;
      s.failures = Date.now() - s.startedAt > HEALTHY_AFTER_MS ? 1 : s.failures + 1;
      const delay = Math.min(RESTART_MAX_MS, RESTART_MIN_MS * 2 ** (s.failures - 1));
      this.restarts.inc();
      log.error({ code, signal, restartInMs: delay }, 'delivery worker exited; its connections were lost; restarting');
      s.timer = setTimeout(() => {
        s.timer = null;
        this.spawn(s);
      }, delay);
    });
    const { policy, tokens } = this.o.control;
    const sharedLimits = this.o.config.cluster.redisUrl !== null; // the cluster sync counts every process (cluster-wiring.ts)
    this.post(s, { type: 'init', index: s.index, processes: this.slots.length + 1, config: this.o.config, signedIds: policy.signedIds(), keys: tokens.activeKeys(), sharedLimits, contentSecret: this.o.delivery.contentSecret() });
  }

  private onMessage(s: Slot, msg: FromWorker, handle?: Socket): void {
    switch (msg.type) {
      case 'ready':
        s.ready = true;
        this.o.log.info({ component: 'delivery-workers', worker: s.index, pid: msg.pid }, 'delivery worker ready');
        return;
      case 'back':
        if (handle && this.router) this.router.keep(handle, Buffer.from(msg.head, 'latin1'));
        return;
      case 'metrics':
        this.scrapes.get(msg.id)?.({ requests: msg.requests, metrics: msg.metrics as AnyMetric[] });
        return;
      case 'qoe':
        for (const r of msg.records) this.o.obs.qoe.record(r.cmcd as Cmcd, r.id, 'vod');
        return;
      case 'usage':
        for (const [ip, n] of msg.media) s.usage.media.set(ip, (s.usage.media.get(ip) ?? 0) + n);
        s.usage.streams = msg.streams;
        return;
    }
  }

  /** Round-robin over [main, worker 0, worker 1, …], skipping workers not ready. */
  private handOff(socket: Socket, head: Buffer): boolean {
    const n = this.slots.length + 1;
    for (let tries = 0; tries < n; tries++) {
      const t = this.turn;
      this.turn = (t + 1) % n;
      if (t === 0) return false; // the main's turn
      const s = this.slots[t - 1]!;
      if (!s.ready || s.child === null || !s.child.connected || s.sending >= MAX_HANDLES_IN_FLIGHT) continue;
      s.sending++;
      s.child.send({ type: 'conn', head: head.toString('latin1') } satisfies ToWorker, socket, (err) => {
        s.sending--;
        // The worker died while the handle was in flight. Once the send has taken the handle (and
        // Node closed it), destroying the socket would take it off the server's count a second
        // time and close() would wait forever (ownConnectionsOnly): only a socket still holding
        // its handle is destroyed.
        if (err && (socket as Socket & { _handle: unknown })._handle != null) socket.destroy();
      });
      this.handedOff.inc();
      return true;
    }
    return false;
  }

  private post(s: Slot, msg: ToWorker): void {
    if (s.child?.connected) s.child.send(msg, (err) => err && this.o.log.debug({ err, worker: s.index }, 'delivery worker message lost'));
  }

  private broadcast(msg: ToWorker): void {
    for (const s of this.slots) this.post(s, msg);
  }

  private scrape(s: Slot): Promise<{ requests: number; metrics: AnyMetric[] } | null> {
    if (!s.ready || !s.child?.connected) return Promise.resolve(null);
    const id = ++this.scrapeId;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.scrapes.delete(id);
        resolve(null);
      }, SCRAPE_TIMEOUT_MS);
      this.scrapes.set(id, (m) => {
        clearTimeout(timer);
        this.scrapes.delete(id);
        resolve(m);
      });
      this.post(s, { type: 'scrape', id });
    });
  }

  /** The main's metrics with the workers' summed in (families only the main has pass through as they are). */
  private async exposition(own: Registry): Promise<string> {
    const mine = (await own.getMetricsAsJSON()) as AnyMetric[];
    const theirs = (await Promise.all(this.slots.map((s) => this.scrape(s)))).flatMap((r) => (r === null ? [] : [r.metrics]));
    if (theirs.length === 0) return own.metrics();
    const shared = new Set(theirs.flatMap((list) => list.map((m) => m.name)));
    const tag = (m: AnyMetric): AnyMetric => ({ ...m, aggregator: shared.has(m.name) ? 'sum' : 'first' });
    return AggregatorRegistry.aggregate([mine.map(tag), ...theirs.map((list) => list.map(tag))]).metrics();
  }

  /** Mirror guard and catalog changes to every worker, one IPC hop after they happen in the main. */
  private subscribeStateChanges(): void {
    const { policy, tokens } = this.o.control;
    policy.onChange((id, visibility) => this.broadcast({ type: 'visibility', id, signed: visibility === 'signed' }));
    tokens.onChange((c) => this.broadcast(c.type === 'added' ? { type: 'key-added', key: { kid: c.kid, secret: c.secret } } : { type: 'key-revoked', kid: c.kid }));
    this.o.delivery.catalog.onInvalidate((assetId) => this.broadcast({ type: 'invalidate', assetId }));
  }
}
