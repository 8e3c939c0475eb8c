/**
 * A playing RTSP pull: the session client-session.ts opened, its RTP turned into units
 * (rtp-receiver.ts, the same path an RTSP publisher's packets take) and handed to the pull sink
 * through PulledConnection (one end, video from a keyframe, the idle limit). It keeps the session
 * alive (GET_PARAMETER or OPTIONS at half the Session timeout, RFC 2326 §12.37), sends receiver
 * reports every RR_INTERVAL_MS (RFC 3550 §6.4.2), and asks for a keyframe with a PLI
 * (RFC 4585 §6.3.1) as soon as video starts without one; no keyframe within KEYFRAME_WAIT_MS ends
 * it, as does a frame that outgrows its share of the buffer bound (LIVE_SOURCE_PROTOCOL: memory
 * stays bounded, and dropping every frame would fail silently). Over UDP, no RTP within
 * UDP_FIRST_PACKET_MS after PLAY (a firewall, NAT) makes it start over with RTP interleaved in the
 * RTSP connection; the idle limit counts from the first packet there. Ending sends TEARDOWN
 * without waiting for its answer.
 */
import { randomBytes } from 'node:crypto';
import { fail, isStromError } from '../../../errors.js';
import { isPermanent, openPlaying, type PlayingSession, type PlayOptions } from '../../rtsp/client-session.js';
import type { TrackOutput } from '../../rtsp/ingest-tracks.js';
import { interleavedFrame } from '../../rtsp/rtsp-message.js';
import { RtpReceiver } from '../../rtsp/rtp-receiver.js';
import { receiverReport } from '../../rtp/rtcp.js';
import type { MediaUnit } from '../../stream/media-unit.js';
import type { SourceSink } from '../connector/source-connector.js';
import { PulledConnection } from './pulled-connection.js';

/** Over UDP, this long without a first RTP packet after PLAY falls back to TCP. */
export const UDP_FIRST_PACKET_MS = 3_000;
/** Video without a keyframe for this long after its first frame ends the connection. */
const KEYFRAME_WAIT_MS = 10_000;
const RR_INTERVAL_MS = 5_000;
/** PLIs are sent at most this often. */
const PLI_INTERVAL_MS = 1_000;

/** One pull from an RTSP source. */
export class RtspSourceConnection extends PulledConnection {
  private session: PlayingSession;
  private receiver!: RtpReceiver;
  private readonly started = Date.now();
  private readonly ssrc = randomBytes(4).readUInt32BE(0);
  private timers: NodeJS.Timeout[] = [];
  /** Falling back to TCP: the watchdog waits. */
  private fallingBack = false;
  private idleWatched = false;
  private keyed = false;
  private firstVideoAt = 0;
  private lastPli = 0;
  private size = { width: 0, height: 0 };
  private playedAt = Date.now();

  constructor(session: PlayingSession, sink: SourceSink, private readonly o: PlayOptions, private readonly url: URL, private readonly idleMs: number) {
    super(sink);
    this.session = session;
    this.attach();
  }

  /** Ask the camera for a keyframe (RTCP PLI about its video track). */
  requestKeyframe(): void {
    const i = this.session.tracks.findIndex((t) => t.ingest.kind === 'video');
    const ssrc = i < 0 ? null : this.receiver.ssrc(i);
    if (ssrc === null || Date.now() - this.lastPli < PLI_INTERVAL_MS) return;
    this.lastPli = Date.now();
    this.sendReports(i, ssrc);
  }

  protected release(): void {
    this.detach();
    this.o.log.info({ bytesIn: this.receiver.bytes, framesDropped: this.receiver.dropped(), ...this.receiver.sequenceStats() }, 'rtsp source ended');
  }

  private attach(): void {
    const s = this.session;
    const out: TrackOutput = { unit: (u) => this.unit(u), size: (width, height) => this.resized(width, height) };
    this.receiver = new RtpReceiver(s.tracks.map((t) => t.ingest), s.tracks.map((t) => t.udp !== null), 64, { bytesIn: 0, badPackets: 0 }, out, this.started);
    this.playedAt = Date.now();
    const channels = new Map<number, [number, boolean]>();
    s.tracks.forEach((t, i) => {
      if (t.udp !== null) {
        t.udp.onPacket = (data, rtcp) => {
          this.sink.received(data.length);
          this.receiver.packet(i, data, rtcp);
        };
      } else {
        channels.set(t.channels[0], [i, false]);
        channels.set(t.channels[1], [i, true]);
      }
    });
    let counted = s.client.bytesIn;
    s.client.onData = (channel, data) => {
      const c = channels.get(channel);
      if (c !== undefined) this.receiver.packet(c[0], data, c[1]);
      this.sink.received(s.client.bytesIn - counted);
      counted = s.client.bytesIn;
    };
    s.client.onEnd = (why) => this.end(why.message);
    const keepAlive = Math.max(1_000, s.client.sessionTimeoutMs / 2);
    this.timers = [
      setInterval(() => s.client.request(s.keepAlive, s.url, keepAlive).catch(() => {}), keepAlive),
      setInterval(() => this.sendReports(), RR_INTERVAL_MS),
      setInterval(() => this.watch(), 250),
    ];
  }

  /** The first packet (TCP fallback over UDP), frame size and keyframe limits; starts the idle watch. */
  private watch(): void {
    if (this.ended || this.fallingBack) return;
    const udp = this.session.tracks.some((t) => t.udp !== null);
    if (this.receiver.lastPacketAt === 0 && udp) {
      if (Date.now() - this.playedAt > UDP_FIRST_PACKET_MS) void this.fallback(); // over UDP the first packet decides the transport, not the idle limit
      return;
    }
    if (!this.idleWatched) {
      this.idleWatched = true;
      this.watchIdle(this.idleMs);
    }
    if (this.receiver.oversized() > 0) this.end(fail('LIVE_SOURCE_PROTOCOL', this.o.display, `a frame larger than ${this.o.maxFrameBytes} bytes (a quarter of the source buffer bound)`).message);
    else if (!this.keyed && this.firstVideoAt > 0 && Date.now() - this.firstVideoAt > KEYFRAME_WAIT_MS) this.end(`no keyframe within ${KEYFRAME_WAIT_MS / 1000} s of the first video frame`);
  }

  /** No RTP over UDP: tear down and play again with interleaved RTP. */
  private async fallback(): Promise<void> {
    this.fallingBack = true;
    this.o.log.info({ afterMs: UDP_FIRST_PACKET_MS }, 'rtsp source sent no RTP over UDP: falling back to TCP');
    this.detach();
    try {
      this.session = await openPlaying(this.url, { ...this.o, transport: 'tcp', deadline: Date.now() + this.o.timeoutMs });
    } catch (err) {
      return this.end(isStromError(err) ? err.message : String(err), isStromError(err) && isPermanent(err));
    } finally {
      this.fallingBack = false;
    }
    if (this.ended) return this.detach(); // closed meanwhile
    this.attach();
  }

  /** Stop the timers, send TEARDOWN (not waited for), close the connection and the UDP sockets. */
  private detach(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const s = this.session;
    s.client.onEnd = () => {};
    s.client.onData = () => {};
    for (const t of s.tracks) t.udp?.close();
    s.client.closeWith('TEARDOWN', s.url);
  }

  private unit(u: MediaUnit): void {
    if (u.kind === 'video' && !u.config && !this.keyed) {
      this.keyed = u.keyframe;
      if (!u.keyframe) {
        this.firstVideoAt ||= Date.now();
        this.requestKeyframe(); // the unit is dropped by deliver: a decoder cannot start here
      }
    }
    this.deliver(u);
  }

  private resized(width: number, height: number): void {
    if (width === this.size.width && height === this.size.height) return;
    this.size = { width, height };
    this.sink.meta({ width, height });
  }

  /** Receiver reports for every track (with a PLI about `pliSsrc` on track `pliTrack`). */
  private sendReports(pliTrack = -1, pliSsrc?: number): void {
    this.session.tracks.forEach((t, i) => {
      const report = this.receiver.report(i);
      if (report === null) return;
      const b = receiverReport({ ssrc: this.ssrc, cname: 'strom', reports: [report], now: Date.now(), pli: i === pliTrack ? pliSsrc : undefined });
      if (t.udp !== null) t.udp.sendRtcp(b);
      else this.session.client.write(interleavedFrame(t.channels[1], b));
    });
  }
}
