/**
 * Viewer QoE from CMCD (CTA-5004): every media request that carries CMCD updates its playback
 * session (keyed by `sid`) and the aggregate of the video or live stream it belongs to (the id is
 * taken from the URL path, never from a metric label). Memory is bounded: sessions are an LRU of
 * `qoe.maxSessions` closed after `qoe.sessionIdleMs` without a request; aggregates an LRU of
 * `qoe.maxContents`. Metrics carry only the content type (vod/live) as a label.
 *
 * How each figure is computed (docs/OPERATIONS.md "QoE"):
 * - startup time: first request of the session → first request without `su` (the player sends
 *   `su` while it is starting or rebuffering, so the first request without it comes after playback
 *   began); resolution is the gap between requests.
 * - rebuffers: requests with `bs` (buffer starvation since the previous request); rebuffer time runs
 *   from such a request to the next request without `su`; ratio = rebuffer time / watch time.
 * - bitrate: mean `br` of video (`ot` v/av, or no `ot`) object requests; a switch is a change of
 *   `br` between consecutive video requests.
 * - throughput: mean `mtp`; buffer: last and mean `bl`; live latency: `ltc` (CMCD v2) when sent.
 */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Cmcd } from './cmcd.js';

/** vod or live. */
export type ContentType = 'vod' | 'live';

/** One playback session as the API reports it. */
export interface QoeSession {
  sid: string;
  contentId: string;
  type: ContentType;
  startedAt: string;
  lastAt: string;
  requests: number;
  startupMs: number | null;
  rebuffers: number;
  rebufferMs: number;
  rebufferRatio: number;
  avgBitrateKbps: number | null;
  bitrateSwitches: number;
  throughputKbps: number | null;
  bufferMs: number | null;
  avgBufferMs: number | null;
  liveLatencyMs: number | null;
}

interface Session {
  sid: string;
  contentId: string;
  type: ContentType;
  firstAt: number;
  lastAt: number;
  requests: number;
  startupMs: number | null;
  /** a request with su was seen (startup is only defined for players that send su) */
  sawSu: boolean;
  stallAt: number | null;
  rebuffers: number;
  rebufferMs: number;
  brSum: number;
  brCount: number;
  lastBr: number;
  switches: number;
  mtpSum: number;
  mtpCount: number;
  bl: number | null;
  blSum: number;
  blCount: number;
  latencyMs: number | null;
}

interface Aggregate {
  contentId: string;
  type: ContentType;
  sessions: number;
  /** recent session ids, newest last (bounded) */
  recent: string[];
  /** figures of sessions already closed (evicted or idle) */
  closed: Totals;
}

interface Totals {
  startupSumMs: number;
  startupCount: number;
  rebuffers: number;
  rebufferMs: number;
  watchMs: number;
  brSum: number;
  brCount: number;
  switches: number;
  mtpSum: number;
  mtpCount: number;
}

const RECENT = 20;

function emptyTotals(): Totals {
  return { startupSumMs: 0, startupCount: 0, rebuffers: 0, rebufferMs: 0, watchMs: 0, brSum: 0, brCount: 0, switches: 0, mtpSum: 0, mtpCount: 0 };
}

function addSession(t: Totals, s: Session): void {
  if (s.startupMs !== null) {
    t.startupSumMs += s.startupMs;
    t.startupCount++;
  }
  t.rebuffers += s.rebuffers;
  t.rebufferMs += s.rebufferMs;
  t.watchMs += watchMs(s);
  t.brSum += s.brSum;
  t.brCount += s.brCount;
  t.switches += s.switches;
  t.mtpSum += s.mtpSum;
  t.mtpCount += s.mtpCount;
}

function watchMs(s: Session): number {
  return Math.max(0, s.lastAt - s.firstAt - (s.startupMs ?? 0));
}

const avg = (sum: number, n: number): number | null => (n > 0 ? Math.round((sum / n) * 10) / 10 : null);

/** Bounded QoE aggregation with Prometheus metrics labelled by content type only. */
export class QoeTracker {
  private readonly sessions = new Map<string, Session>();
  private readonly contents = new Map<string, Aggregate>();
  private readonly m;
  private lastSweep = 0;

  constructor(registry: Registry, private readonly o: { maxSessions: number; maxContents: number; sessionIdleMs: number }) {
    const registers = [registry];
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- prom-client binds `this` to the metric in collect()
    const self = this;
    const labelNames = ['type'] as const;
    this.m = {
      requests: new Counter({ name: 'strom_cmcd_requests_total', help: 'Media requests that carried CMCD', labelNames, registers }),
      sessions: new Counter({ name: 'strom_qoe_sessions_total', help: 'Playback sessions (CMCD sid) seen', labelNames, registers }),
      active: new Gauge({ name: 'strom_qoe_active_sessions', help: 'Playback sessions heard from within qoe.sessionIdleMs', labelNames, registers, collect() {
        self.sweep(Date.now());
        let vod = 0;
        for (const s of self.sessions.values()) if (s.type === 'vod') vod++;
        this.set({ type: 'vod' }, vod);
        this.set({ type: 'live' }, self.sessions.size - vod);
      } }),
      startup: new Histogram({ name: 'strom_qoe_startup_seconds', help: 'Startup time: first request to first request without su', labelNames, buckets: [0.25, 0.5, 1, 2, 3, 5, 8, 13, 20], registers }),
      rebuffers: new Counter({ name: 'strom_qoe_rebuffers_total', help: 'Rebuffer events (CMCD bs)', labelNames, registers }),
      rebufferSeconds: new Counter({ name: 'strom_qoe_rebuffer_seconds_total', help: 'Estimated time spent rebuffering', labelNames, registers }),
      bitrate: new Histogram({ name: 'strom_qoe_bitrate_kbps', help: 'Encoded bitrate of requested video objects (CMCD br)', labelNames, buckets: [150, 300, 600, 1000, 1500, 2500, 4000, 6000, 10000], registers }),
      switches: new Counter({ name: 'strom_qoe_bitrate_switches_total', help: 'Changes of br between consecutive video requests of a session', labelNames, registers }),
      throughput: new Histogram({ name: 'strom_qoe_throughput_kbps', help: 'Player-measured throughput (CMCD mtp)', labelNames, buckets: [500, 1000, 2500, 5000, 10000, 25000, 50000, 100000], registers }),
      buffer: new Histogram({ name: 'strom_qoe_buffer_seconds', help: 'Player buffer length at request time (CMCD bl)', labelNames, buckets: [0.5, 1, 2, 4, 8, 15, 30, 60], registers }),
      latency: new Histogram({ name: 'strom_qoe_live_latency_seconds', help: 'Live latency reported by players (CMCD v2 ltc)', labelNames, buckets: [0.5, 1, 2, 3, 5, 8, 13, 30], registers }),
    };
  }

  /** Record one request with CMCD for `contentId` (from the URL). `fallbackType` when `st` is absent. */
  record(c: Cmcd, contentId: string, fallbackType: ContentType, now = Date.now()): void {
    const type: ContentType = c.st === 'l' ? 'live' : c.st === 'v' ? 'vod' : fallbackType;
    this.m.requests.inc({ type });
    if (c.sid === undefined || c.sid === '') return;
    if (now - this.lastSweep > 10_000) this.sweep(now);
    const key = `${contentId}\u0000${c.sid}`;
    let s = this.sessions.get(key);
    if (s === undefined) {
      s = {
        sid: c.sid, contentId, type, firstAt: now, lastAt: now, requests: 0, startupMs: null, sawSu: false, stallAt: null, rebuffers: 0, rebufferMs: 0,
        brSum: 0, brCount: 0, lastBr: 0, switches: 0, mtpSum: 0, mtpCount: 0, bl: null, blSum: 0, blCount: 0, latencyMs: null,
      };
      this.sessions.set(key, s);
      if (this.sessions.size > this.o.maxSessions) this.close(this.sessions.keys().next().value!);
      const agg = this.aggregate(contentId, type);
      agg.sessions++;
      agg.recent.push(key);
      if (agg.recent.length > RECENT) agg.recent.shift();
      this.m.sessions.inc({ type });
    } else {
      // LRU: move to the newest end
      this.sessions.delete(key);
      this.sessions.set(key, s);
    }
    s.requests++;
    s.lastAt = now;
    if (c.bs === true) {
      s.rebuffers++;
      s.stallAt ??= now;
      this.m.rebuffers.inc({ type });
    }
    if (c.su === true) s.sawSu = true;
    else {
      if (s.startupMs === null && s.sawSu) {
        s.startupMs = now - s.firstAt;
        this.m.startup.observe({ type }, s.startupMs / 1000);
      }
      if (s.stallAt !== null && c.bs !== true) {
        s.rebufferMs += now - s.stallAt;
        this.m.rebufferSeconds.inc({ type }, (now - s.stallAt) / 1000);
        s.stallAt = null;
      }
    }
    const video = c.ot === undefined || c.ot === 'v' || c.ot === 'av';
    if (c.br !== undefined && video && c.ot !== 'm' && c.ot !== 'i') {
      if (s.brCount > 0 && c.br !== s.lastBr) {
        s.switches++;
        this.m.switches.inc({ type });
      }
      s.brSum += c.br;
      s.brCount++;
      s.lastBr = c.br;
      this.m.bitrate.observe({ type }, c.br);
    }
    if (c.mtp !== undefined && c.mtp > 0) {
      s.mtpSum += c.mtp;
      s.mtpCount++;
      this.m.throughput.observe({ type }, c.mtp);
    }
    if (c.bl !== undefined) {
      s.bl = c.bl;
      s.blSum += c.bl;
      s.blCount++;
      this.m.buffer.observe({ type }, c.bl / 1000);
    }
    if (c.ltc !== undefined) {
      s.latencyMs = c.ltc;
      this.m.latency.observe({ type }, c.ltc / 1000);
    }
  }

  /** QoE of one video or live stream: aggregates over every session seen, plus recent sessions. Null when none. */
  report(contentId: string, now = Date.now()): { contentId: string; type: ContentType; sessions: number; activeSessions: number; startupMs: number | null; rebuffers: number; rebufferRatio: number; avgBitrateKbps: number | null; bitrateSwitches: number; throughputKbps: number | null; recentSessions: QoeSession[] } | null {
    this.sweep(now);
    const agg = this.contents.get(contentId);
    if (agg === undefined) return null;
    const t: Totals = { ...agg.closed };
    let active = 0;
    const recent: QoeSession[] = [];
    for (const key of agg.recent) {
      const s = this.sessions.get(key);
      if (s) recent.push(view(s));
    }
    for (const s of this.sessions.values()) {
      if (s.contentId !== contentId) continue;
      active++;
      addSession(t, s);
    }
    return {
      contentId, type: agg.type, sessions: agg.sessions, activeSessions: active,
      startupMs: avg(t.startupSumMs, t.startupCount),
      rebuffers: t.rebuffers,
      rebufferRatio: t.watchMs > 0 ? Math.round((t.rebufferMs / t.watchMs) * 10_000) / 10_000 : 0,
      avgBitrateKbps: avg(t.brSum, t.brCount),
      bitrateSwitches: t.switches,
      throughputKbps: avg(t.mtpSum, t.mtpCount),
      recentSessions: recent.reverse(),
    };
  }

  /** Number of sessions held (tests, bounds). */
  get size(): { sessions: number; contents: number } {
    return { sessions: this.sessions.size, contents: this.contents.size };
  }

  private aggregate(contentId: string, type: ContentType): Aggregate {
    let a = this.contents.get(contentId);
    if (a === undefined) {
      a = { contentId, type, sessions: 0, recent: [], closed: emptyTotals() };
      this.contents.set(contentId, a);
      if (this.contents.size > this.o.maxContents) this.contents.delete(this.contents.keys().next().value!);
    } else {
      this.contents.delete(contentId);
      this.contents.set(contentId, a);
    }
    return a;
  }

  private close(key: string): void {
    const s = this.sessions.get(key);
    if (!s) return;
    this.sessions.delete(key);
    const agg = this.contents.get(s.contentId);
    if (agg) addSession(agg.closed, s);
  }

  /** Close sessions idle longer than `sessionIdleMs` (oldest first, so stop at the first fresh one). */
  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [key, s] of this.sessions) {
      if (now - s.lastAt < this.o.sessionIdleMs) break;
      this.close(key);
    }
  }
}

function view(s: Session): QoeSession {
  const watched = watchMs(s);
  return {
    sid: s.sid, contentId: s.contentId, type: s.type,
    startedAt: new Date(s.firstAt).toISOString(), lastAt: new Date(s.lastAt).toISOString(),
    requests: s.requests, startupMs: s.startupMs, rebuffers: s.rebuffers, rebufferMs: s.rebufferMs,
    rebufferRatio: watched > 0 ? Math.round((s.rebufferMs / watched) * 10_000) / 10_000 : 0,
    avgBitrateKbps: avg(s.brSum, s.brCount), bitrateSwitches: s.switches,
    throughputKbps: avg(s.mtpSum, s.mtpCount), bufferMs: s.bl, avgBufferMs: avg(s.blSum, s.blCount), liveLatencyMs: s.latencyMs,
  };
}
