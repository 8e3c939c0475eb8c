/**
 * The recent video packets of one watched stream, shared by all its WHEP viewers, to answer
 * Generic NACKs (RFC 4585 §6.2.1) that werift cannot. werift's RTCRtpSender keeps the last 128
 * packets per viewer (`RTP_HISTORY_SIZE`) and resends those itself; a keyframe is often larger than
 * that (a 1080p IDR is 150–300 packets at MTU 1200) and at 4 Mbit/s 128 packets are ~0.4 s, so a
 * NACK for a keyframe's first packets or a second NACK after a long RTT finds them overwritten.
 * Every viewer sends the same payloads in the same order (only its RTP header differs), so one ring
 * per stream serves them all: a packet is found by its fan-out sequence number. Bounded by
 * `webrtc.nackCacheMaxPackets` and `webrtc.nackCacheMaxAgeMs` (a packet older than that is past any
 * jitter buffer: resending it would only add load).
 */
/** What the cache needs of a packet: its fan-out sequence number and payload. */
interface Numbered {
  seq: number;
  payload: Buffer;
}

/** A bounded ring of a stream's video packets by fan-out sequence number. */
export class NackCache<P extends Numbered> {
  private readonly ring: Array<P | undefined>;
  private readonly at: Float64Array;
  /** Fan-out sequence number the next packet gets. */
  private next = 0;

  constructor(
    readonly maxPackets: number,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.ring = new Array<P | undefined>(maxPackets);
    this.at = new Float64Array(maxPackets);
  }

  /** Keep `p` (its `seq` must be the next fan-out sequence number). */
  push(p: P): void {
    const i = p.seq % this.maxPackets;
    this.ring[i] = p;
    this.at[i] = this.now();
    this.next = p.seq + 1;
  }

  /** The packet with fan-out sequence number `seq`, if still kept and young enough. */
  get(seq: number): P | undefined {
    if (seq < 0 || seq >= this.next || this.next - seq > this.maxPackets) return undefined;
    const i = seq % this.maxPackets;
    const p = this.ring[i];
    if (p === undefined || p.seq !== seq || this.now() - this.at[i]! > this.maxAgeMs) return undefined;
    return p;
  }

  /** Payload bytes held (metric). */
  get bytes(): number {
    let n = 0;
    for (const p of this.ring) if (p !== undefined) n += p.payload.length;
    return n;
  }
}
