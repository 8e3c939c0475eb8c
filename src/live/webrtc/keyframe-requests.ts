/**
 * Keyframe requests of one watched stream, coalesced. Every WHEP viewer that loses a picture sends
 * a PLI or FIR (RFC 4585 §6.3.1, RFC 5104 §4.3.1); after a loss burst on a shared path they all do
 * at once. One keyframe repairs every viewer, so one request goes upstream (a WHIP publisher: one
 * RTCP PLI) and the rest wait for that keyframe — or for `windowMs` when none comes (the PLI or the
 * keyframe may itself be lost). A publisher that cannot be asked (RTMP, SRT, RTSP push) is not asked:
 * its viewers wait for the encoder's next keyframe and nothing is done per viewer.
 * With `windowMs` = 0 every request is forwarded (the publisher keeps its own 500 ms floor).
 */
import type { KeyframeCounts, KeyframeOutcome } from './webrtc-metrics.js';

/** Coalesces the keyframe requests of one stream's viewers. */
export class KeyframeRequests {
  /** When the request in flight went upstream; null when none is pending. */
  private pendingSince: number | null = null;

  constructor(
    /** Coalescing window (`webrtc.keyframeRequestWindowMs`); 0 = forward every request. */
    private readonly windowMs: number,
    /** Ask the publisher for a keyframe; false when it cannot be asked. */
    private readonly ask: () => boolean,
    private readonly counts: KeyframeCounts,
    private readonly now: () => number = Date.now,
  ) {}

  /** A viewer needs a keyframe (PLI, FIR, or a join without a cached one). */
  request(): KeyframeOutcome {
    const t = this.now();
    let outcome: KeyframeOutcome;
    if (this.windowMs > 0 && this.pendingSince !== null && t - this.pendingSince < this.windowMs) outcome = 'coalesced';
    else if (this.ask()) {
      outcome = 'sent';
      this.pendingSince = t;
    } else outcome = 'unsupported';
    this.counts[outcome]++;
    return outcome;
  }

  /** A keyframe arrived from the publisher: the request in flight is answered. */
  keyframe(): void {
    this.pendingSince = null;
  }
}
