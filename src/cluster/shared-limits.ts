/**
 * The media limiter (a token bucket per client IP) and the per-token stream cap, counted for the
 * whole cluster. Both sit on the delivery hot path and stay synchronous there: every process (the
 * main and each delivery worker) decides with its own structures, and every `rateLimit.syncMs`
 * (250 ms) the main exchanges usage with Redis in one pipeline — its own and what its workers
 * reported over IPC — and hands every process the cluster's view back:
 *
 * - media: one shared bucket per IP, `strom:lim:media:<ip>` (a hash: tokens, last refill on the
 *   Redis clock), same capacity and refill as a local one. A sync subtracts the node's admissions
 *   since the last sync and returns the tokens left; each process sets its bucket to that, minus
 *   what it admitted since its report. The key expires once the bucket would be full again.
 * - streams: `strom:lim:streams:<sha256(token)>` (a hash: node id → open responses and when that
 *   was reported). A node reports every token it has open on each sync; counts not refreshed
 *   within four intervals (a dead node) are dropped. Each process learns how many responses the
 *   token holds elsewhere (other nodes and its sibling processes) and adds that to its own count.
 *   Tokens are hashed: a bearer credential never goes to Redis.
 *
 * Accuracy: a sync carries the IPs and tokens a process served since the previous one, so a
 * process decides on what it learnt at its last sync of that key: another process's admissions
 * reach its decisions within two sync intervals of it serving the client (one more, the IPC
 * report, when either is a delivery worker). A client spread over P processes can therefore get
 * at most about what each process admits it in that time beyond its budget; the shared bucket goes
 * negative by that excess, which is paid back before the client is admitted again. While Redis is
 * unreachable every process counts alone, with the full budget.
 */
import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { Counter, type Registry } from 'prom-client';
import type { RedisConnection } from './redis-connection.js';

/** Keys per script call (a pipeline holds several calls). */
const CHUNK = 500;
/** A node's stream counts older than this many sync intervals are ignored and removed. */
const STALE_INTERVALS = 4;

/** What one process used since its last report. */
export interface LimitUsage {
  /** Requests admitted per client IP (IPs only refused appear with 0). */
  media: Array<[string, number]>;
  /** Open media responses per playback token: the process's complete current set. */
  streams: Array<[string, number]>;
}

/** The cluster's view handed back to a process. */
export interface LimitView {
  /** Tokens left in the cluster-wide bucket of each IP, after every admission reported so far. */
  media: Array<[string, number]>;
  /** Responses each token holds open elsewhere: other nodes and the node's other processes. */
  streams: Array<[string, number]>;
}

/** One process enforcing the limits: the main itself, or a delivery worker through IPC. */
export interface LimitParticipant {
  report(): LimitUsage;
  apply(view: LimitView): void;
}

/** Options of the shared limits. */
export interface SharedLimitsOptions {
  redis: RedisConnection;
  nodeId: string;
  log: Logger;
  registry: Registry;
  /** `rateLimit.syncMs`. */
  syncMs: number;
  /** `rateLimit.media.perMinute` (0 = unlimited: not synced). */
  mediaPerMinute: number;
  /** `rateLimit.maxStreamsPerToken` (0 = unlimited: not synced). */
  maxStreams: number;
  /** The processes of this node, asked on every sync (workers come and go). */
  participants(): LimitParticipant[];
}

// KEYS: bucket keys. ARGV: capacity, refill per ms, then the admissions per key.
// Tokens are returned as strings: Redis turns Lua numbers into integers.
const MEDIA_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
local perMs = tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  local used = tonumber(ARGV[2 + i])
  local h = redis.call('HMGET', key, 't', 'l')
  local tokens = tonumber(h[1]) or cap
  local last = tonumber(h[2]) or now
  if now > last then tokens = math.min(cap, tokens + (now - last) * perMs) end
  tokens = math.max(-cap, tokens - used)
  if tokens >= cap then
    redis.call('DEL', key)
  else
    redis.call('HSET', key, 't', tostring(tokens), 'l', tostring(now))
    redis.call('PEXPIRE', key, math.ceil((cap - tokens) / perMs) + 1000)
  end
  out[i] = tostring(tokens)
end
return out`;

// KEYS: stream-count keys. ARGV: node id, stale-after ms, then this node's open count per key.
// Returns what the other nodes hold open per key.
const STREAMS_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local node = ARGV[1]
local stale = tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  local n = tonumber(ARGV[2 + i])
  if n > 0 then redis.call('HSET', key, node, n .. ':' .. now) else redis.call('HDEL', key, node) end
  local all = redis.call('HGETALL', key)
  local others = 0
  for j = 1, #all, 2 do
    if all[j] ~= node then
      local c, at = string.match(all[j + 1], '^(%d+):(%d+)$')
      if c and now - tonumber(at) <= stale then others = others + tonumber(c) else redis.call('HDEL', key, all[j]) end
    end
  end
  if n > 0 then redis.call('PEXPIRE', key, stale) end
  out[i] = others
end
return out`;

/** The Redis key of a token's stream counts. */
function streamKey(token: string): string {
  return `strom:lim:streams:${createHash('sha256').update(token).digest('base64url').slice(0, 24)}`;
}

/** Periodic exchange of limiter usage with Redis (see the file header). */
export class SharedLimits {
  private readonly log: Logger;
  private timer: NodeJS.Timeout | null = null;
  private syncing: Promise<void> | null = null;
  /** Tokens this node reported open on the last sync (a token that closed must be reported as 0 once). */
  private lastOpen = new Set<string>();
  private readonly syncs: Counter;
  private readonly errors: Counter;

  constructor(private readonly o: SharedLimitsOptions) {
    this.log = o.log.child({ component: 'cluster-limits', nodeId: o.nodeId });
    const registers = [o.registry];
    this.syncs = new Counter({ name: 'strom_cluster_limit_syncs_total', help: 'Exchanges of media-limiter and stream-cap usage with Redis', registers });
    this.errors = new Counter({ name: 'strom_cluster_limit_sync_errors_total', help: 'Limiter syncs that failed (Redis unreachable): processes counted alone meanwhile', registers });
  }

  /** Sync every `syncMs`. */
  start(): void {
    this.timer = setInterval(() => void this.sync(), this.o.syncMs);
    this.timer.unref();
  }

  /** Stop syncing. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.syncing;
  }

  /** One exchange now (skipped while one runs; while Redis is unreachable the usage is dropped: each process counts alone). */
  sync(): Promise<void> {
    if (this.syncing) return this.syncing;
    if (!this.o.redis.ready()) {
      for (const p of this.o.participants()) p.report(); // keeps the reports bounded through an outage
      return Promise.resolve();
    }
    this.syncing = this.exchange().catch((err: Error) => {
      this.errors.inc();
      this.log.debug({ err: err.message }, 'limiter sync failed');
    }).finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  private async exchange(): Promise<void> {
    const parts = this.o.participants();
    const reports = parts.map((p) => p.report());
    const used = new Map<string, number>();
    const open = new Map<string, number>();
    const own = reports.map((r) => new Map(r.streams));
    for (const r of reports) {
      for (const [ip, n] of r.media) used.set(ip, (used.get(ip) ?? 0) + n);
      for (const [token, n] of r.streams) open.set(token, (open.get(token) ?? 0) + n);
    }
    const mediaIps = this.o.mediaPerMinute > 0 ? [...used.keys()] : [];
    const tokens = this.o.maxStreams > 0 ? [...new Set([...open.keys(), ...this.lastOpen])] : [];
    if (mediaIps.length === 0 && tokens.length === 0) return;

    const pipe = this.o.redis.cmd.pipeline();
    const perMs = this.o.mediaPerMinute / 60_000;
    for (let i = 0; i < mediaIps.length; i += CHUNK) {
      const ips = mediaIps.slice(i, i + CHUNK);
      pipe.eval(MEDIA_SCRIPT, ips.length, ...ips.map((ip) => `strom:lim:media:${ip}`), String(this.o.mediaPerMinute), String(perMs), ...ips.map((ip) => String(used.get(ip))));
    }
    const stale = STALE_INTERVALS * this.o.syncMs;
    for (let i = 0; i < tokens.length; i += CHUNK) {
      const ts = tokens.slice(i, i + CHUNK);
      pipe.eval(STREAMS_SCRIPT, ts.length, ...ts.map(streamKey), this.o.nodeId, String(stale), ...ts.map((t) => String(open.get(t) ?? 0)));
    }
    const results = (await pipe.exec()) ?? [];
    const replies: unknown[] = [];
    for (const [err, reply] of results) {
      if (err) throw err;
      replies.push(...(reply as unknown[]));
    }
    this.lastOpen = new Set(open.keys());
    this.syncs.inc();

    const media: Array<[string, number]> = mediaIps.map((ip, i) => [ip, Number(replies[i])]);
    const elsewhere = tokens.map((t, i) => [t, Number(replies[mediaIps.length + i]), open.get(t) ?? 0] as const);
    parts.forEach((p, k) => {
      const mine = own[k]!;
      const streams: Array<[string, number]> = [];
      for (const [t, others, total] of elsewhere) {
        const n = others + total - (mine.get(t) ?? 0);
        if (n > 0) streams.push([t, n]);
      }
      p.apply({ media, streams });
    });
  }
}
