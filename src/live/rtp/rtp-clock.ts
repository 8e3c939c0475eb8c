/**
 * RTP timestamps of one track → milliseconds on a session timeline. Timestamps are unwrapped
 * (signed 32-bit differences, RFC 3550 §5.1 "wraps around") and the track's first packet is placed
 * at its arrival time since the session started, so tracks of one publisher line up as closely as
 * their first packets arrived (on a LAN: a few ms). A sender report (RFC 3550 §6.4.1) seen before
 * the first packet of a track places it by the sender's own NTP↔RTP mapping instead — exact lip
 * sync whatever the network did. A jump of more than 10 s either way (a camera resetting its
 * clock) and a new SSRC (`restart`: the sender restarted, its timestamps start anywhere) are
 * bridged by the wall-clock time since the previous packet, so the timeline neither travels back
 * nor leaps ahead.
 */

/** The clock of one incoming track. */
export class RtpClock {
  private first = -1;
  private last = 0;
  private unwrapped = 0;
  private baseMs = 0;
  private sr: { ntpMs: number; rtp: number } | null = null;
  private lastWall = 0;
  private resync = false;

  constructor(private readonly rate: number, private readonly sessionStart: number, private readonly now: () => number = Date.now) {}

  /**
   * A sender report of this track; `ntpStart` is the sender's NTP time (ms) the session timeline
   * starts at, shared by every track of the publisher (the first report's NTP minus the time since
   * the session started). Only the first report counts: later ones would move a running timeline.
   */
  senderReport(ntpMs: number, rtpTimestamp: number): void {
    if (this.sr === null) this.sr = { ntpMs, rtp: rtpTimestamp };
  }

  /** The sender restarted (a new SSRC): its next timestamp continues the timeline by the wall-clock gap. */
  restart(): void {
    this.resync = this.first !== -1;
  }

  /** Milliseconds of `ts` on the session timeline; `ntpStart` as in senderReport, or null. */
  toMs(ts: number, ntpStart: number | null = null): number {
    if (this.first === -1) {
      this.first = ts;
      this.last = ts;
      this.baseMs = this.sr !== null && ntpStart !== null
        ? this.sr.ntpMs - ntpStart + (((ts - this.sr.rtp) | 0) * 1000) / this.rate
        : this.now() - this.sessionStart;
    }
    let d = (ts - this.last) | 0; // signed 32-bit difference handles wrap-around
    const now = this.now();
    if (this.resync || d < -this.rate * 10 || d > this.rate * 10) d = Math.round((Math.max(0, now - this.lastWall) * this.rate) / 1000); // a reset, not time travel
    this.resync = false;
    this.lastWall = now;
    this.last = ts;
    this.unwrapped += d;
    return this.baseMs + (this.unwrapped * 1000) / this.rate;
  }
}
