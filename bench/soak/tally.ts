/**
 * What the soak's clients saw, shared by every load loop and read by the sampler and the verdict:
 * viewers by protocol, joins and leaves, unexpected viewer disconnects (with their reasons),
 * publisher reconnects, uploads by outcome, API and SSE traffic. Also each live stream's state,
 * so a viewer ended by a planned publisher disconnect is told from an unexpected one.
 */

/** Viewer protocols the soak runs. */
export type Protocol = 'http-flv' | 'ws-flv' | 'll-hls' | 'll-dash' | 'whep' | 'vod';

/** A viewer's end that no planned event explains. */
export interface Unexpected {
  atS: number;
  protocol: Protocol;
  stream: string;
  reason: string;
}

/** A planned publisher gap is blamed for viewer ends this long after it began or ended. */
const GRACE_MS = 15_000;

/** Counters of one soak run. */
export class Tally {
  readonly t0 = Date.now();
  readonly active = new Map<Protocol, number>();
  joins = 0;
  leaves = 0;
  /** Viewer ends explained by a publisher's planned disconnect. */
  expectedEnds = 0;
  readonly unexpected: Unexpected[] = [];
  publisherReconnects = 0;
  publisherFailures = 0;
  uploads = { started: 0, ready: 0, cancelled: 0, resumed: 0, failed: 0, reasons: [] as string[] };
  vodRequests = 0;
  vodFailures = 0;
  apiRequests = 0;
  apiFailures = 0;
  sseEvents = 0;
  sseUnexpectedEnds = 0;
  /** Stream id → whether its publisher is up, and when it last changed. */
  private readonly streams = new Map<string, { up: boolean; changedAt: number }>();

  /** Seconds since the soak began. */
  seconds(): number {
    return (Date.now() - this.t0) / 1000;
  }

  /** Record a publisher going up or (planned) down. */
  setStream(stream: string, up: boolean): void {
    this.streams.set(stream, { up, changedAt: Date.now() });
  }

  /** True when viewers may join `stream` now (its publisher up for at least 3 s). */
  joinable(stream: string): boolean {
    const s = this.streams.get(stream);
    return s !== undefined && s.up && Date.now() - s.changedAt > 3_000;
  }

  /** True when a viewer of `stream` ending now is explained by a planned publisher gap. */
  planned(stream: string): boolean {
    const s = this.streams.get(stream);
    return s === undefined || !s.up || Date.now() - s.changedAt < GRACE_MS;
  }

  /** A viewer started. */
  joined(p: Protocol): void {
    this.joins++;
    this.active.set(p, (this.active.get(p) ?? 0) + 1);
  }

  /** A viewer ended: `left` when the soak closed it, else its stream ended or it failed with `reason`. */
  ended(p: Protocol, stream: string, left: boolean, reason: string): void {
    this.active.set(p, (this.active.get(p) ?? 1) - 1);
    if (left) this.leaves++;
    else if (this.planned(stream)) this.expectedEnds++;
    else this.unexpected.push({ atS: Math.round(this.seconds()), protocol: p, stream, reason });
  }

  /** Viewers open now, all protocols. */
  viewers(): number {
    let n = 0;
    for (const v of this.active.values()) n += v;
    return n;
  }
}
