/**
 * One RTP packetizer per watched stream, shared by all its WHEP viewers. The
 * fan-out is a single hub Reader ('whep', audio asked as Opus: the audio bridge transcodes AAC
 * sources) whose units are packetized ONCE — H.264 per RFC 6184 with SPS/PPS sent ahead of every
 * IDR, Opus one packet per frame (RFC 7587) — into shared payload Buffers; each viewer only adds
 * its own RTP header (sequence numbers) and werift's SRTP.
 *
 * Joining: the packets since the latest keyframe are kept (bounded by `live.gopCacheMaxBytes`) and
 * a new viewer starts with them: the keyframe's packets at once (its first picture), the rest of the
 * cached GOP REPLAY_BATCH packets per event-loop turn, live packets queued behind them until the
 * replay has caught up — a 2 s GOP is ~1,000 packets, each through werift's SRTP, which sent in one
 * go held the event loop (every other viewer and request) for 0.3–1 s per join. The fan-out is
 * started when the offer arrives (WebRtcService.prepare) so its hub reader, audio bridge and GOP
 * are ready when DTLS completes, and it stays `webrtc.fanoutIdleMs` without viewers.
 * Without a cached keyframe a viewer waits for the next one, and the
 * publisher is asked for one when it can be (WHIP: RTCP PLI). Viewer PLIs/FIRs go the same way,
 * coalesced per stream (`KeyframeRequests`: one request upstream until its keyframe arrives). An
 * RTMP publisher cannot be asked for a keyframe: the viewer recovers at the encoder's next GOP (OBS
 * and ffmpeg default to 1–2 s keyframe intervals), and NACK retransmission (werift's 128-packet
 * sender history, then the stream's shared `NackCache`) repairs isolated losses without a keyframe.
 * Slow viewers: werift sends over UDP without back-pressure, so nothing queues per viewer here;
 * what a congested path drops is lost or NACKed, never buffered without bound.
 */
import type { Logger } from 'pino';
import type { MediaUnit } from '../stream/media-unit.js';
import type { Reader } from '../stream/reader.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import { packetizeH264, parseAvcConfig, splitAvcc } from '../rtp/h264-packetizer.js';
import { KeyframeRequests } from './keyframe-requests.js';
import { NackCache } from './nack-cache.js';
import type { WebRtcStats } from './webrtc-metrics.js';

/** Loss-repair and timing settings of a fan-out (`webrtc.*`). */
export interface FanoutRepair {
  keyframeRequestWindowMs: number;
  nackCacheMaxPackets: number;
  nackCacheMaxAgeMs: number;
  /** How long an offer's viewer may take to connect: the fan-out started for it waits that long. */
  sessionTimeoutMs: number;
}

/** One packetized RTP payload, shared by every viewer. */
export interface OutPacket {
  video: boolean;
  payload: Buffer;
  marker: boolean;
  /** RTP timestamp (90 kHz video / 48 kHz audio), before the viewer's offset. */
  ts: number;
  /** First packet of a video keyframe: a viewer may start here. */
  keyStart: boolean;
  /** Fan-out sequence number, counted per kind from 0: a viewer's RTP sequence number maps to it (NACKs). */
  seq: number;
}

/** Cached packets replayed to a joining viewer per event-loop turn (after its keyframe). */
const REPLAY_BATCH = 64;
/** A viewer whose replay backlog grows past this many packets is closed: it cannot be caught up. */
const MAX_REPLAY_BACKLOG = 16_384;

/** A viewer's place in the fan-out. */
interface ViewerState {
  /** Has had its starting keyframe (or, audio-only, its first packet). */
  started: boolean;
  /** Packets still to send before live ones go straight out (a join's GOP replay); null when caught up. */
  backlog: OutPacket[] | null;
}

/** What the fan-out needs of a viewer. */
export interface FanoutViewer {
  /** Send one packet (the viewer adds its RTP header). */
  send(p: OutPacket): void;
  /** The stream ended or the fan-out closed. */
  close(reason: string): void;
}

/** The shared packetizer of one stream. */
export class WhepFanout {
  private readonly viewers = new Map<FanoutViewer, ViewerState>();
  private idle: NodeJS.Timeout | null = null;
  private reader: Reader | null = null;
  private sps: Buffer[] = [];
  private pps: Buffer[] = [];
  private lengthSize = 4;
  private gop: OutPacket[] = [];
  private gopBytes = 0;
  private hasVideo = false;
  private warned = new Set<string>();
  private closed = false;
  private readonly seqs = { video: 0, audio: 0 };
  private readonly keyframes: KeyframeRequests;
  /** Recent video packets for NACKs werift's per-viewer history cannot answer; null = off. */
  readonly nack: NackCache<OutPacket> | null;

  constructor(
    readonly streamId: string,
    private readonly registry: StreamRegistry,
    private readonly maxGopBytes: number,
    /** How long the fan-out stays without viewers (`webrtc.fanoutIdleMs`). */
    private readonly idleMs: number,
    private readonly repair: FanoutRepair,
    private readonly stats: WebRtcStats,
    private readonly log: Logger,
    private readonly onClosed: (f: WhepFanout) => void,
  ) {
    this.keyframes = new KeyframeRequests(repair.keyframeRequestWindowMs, () => {
      const publisher = this.registry.get(this.streamId)?.publisher;
      if (publisher?.requestKeyframe === undefined) return false; // RTMP/SRT/RTSP push: wait for the encoder's next keyframe
      publisher.requestKeyframe();
      return true;
    }, stats.keyframeRequests);
    this.nack = repair.nackCacheMaxPackets > 0 ? new NackCache(repair.nackCacheMaxPackets, repair.nackCacheMaxAgeMs) : null;
  }

  /** Attach to the stream (throws LIVE_STREAM_NOT_FOUND when it is not live). */
  start(): void {
    this.hasVideo = this.registry.get(this.streamId)?.tracks.video?.codec === 'avc'; // other video is not sent: audio alone starts viewers
    this.reader = this.registry.addReader(this.streamId, 'whep', {
      write: (units) => {
        for (const u of units) this.onUnit(u);
        return true; // UDP: no back-pressure to wait for (see the header)
      },
      close: (reason) => this.close(reason),
    }, { audioCodec: 'opus' });
    this.reader.viewerCount = () => this.viewers.size; // status/API count WHEP viewers, not packetizers
    // Started ahead of its first viewer, which may take until its session times out to connect
    // (even with fanoutIdleMs 0, which only closes the fan-out when its last viewer leaves).
    this.armIdle(Math.max(this.idleMs, this.repair.sessionTimeoutMs));
  }

  /** Payload bytes of the cached GOP (metric). */
  get cachedBytes(): number {
    return this.gop.length > 0 ? this.gopBytes : 0;
  }

  /** Add a connected viewer: it starts at the cached keyframe, or at the next one. */
  add(v: FanoutViewer): void {
    const state: ViewerState = { started: false, backlog: null };
    this.viewers.set(v, state);
    if (this.idle !== null) clearTimeout(this.idle);
    this.idle = null;
    const gop = this.gop;
    if (gop.length > 0 && gop[0]!.keyStart) {
      state.started = true;
      let i = 0;
      while (i < gop.length) {
        const p = gop[i++]!;
        this.deliver(v, p);
        if (p.video && p.marker) break; // the keyframe is complete: its picture can be shown
      }
      if (i < gop.length) {
        state.backlog = gop.slice(i);
        this.replay(v, state);
      }
    } else this.requestKeyframe();
  }

  /** Remove a viewer; without viewers the fan-out closes after `idleMs`. */
  remove(v: FanoutViewer): void {
    this.viewers.delete(v);
    this.armIdle();
  }

  private armIdle(ms = this.idleMs): void {
    if (this.viewers.size > 0 || this.closed || this.idle !== null) return;
    if (ms === 0) return this.close('no WHEP viewers left');
    this.idle = setTimeout(() => {
      this.idle = null;
      if (this.viewers.size === 0) this.close(`no WHEP viewers for ${ms} ms`);
    }, ms);
    this.idle.unref();
  }

  /** Send the next batch of `v`'s backlog on the next event-loop turn, until it is empty. */
  private replay(v: FanoutViewer, state: ViewerState): void {
    setImmediate(() => {
      if (state.backlog === null || this.viewers.get(v) !== state) return;
      for (const p of state.backlog.splice(0, REPLAY_BATCH)) this.deliver(v, p);
      if (state.backlog.length === 0) state.backlog = null;
      else this.replay(v, state);
    });
  }

  /** A viewer lost a picture (PLI/FIR) or joined without one: ask the publisher for a keyframe, once per GOP. */
  requestKeyframe(): void {
    this.keyframes.request();
  }

  /** Close the fan-out and every viewer still on it. */
  close(reason: string): void {
    if (this.closed) return;
    this.closed = true;
    if (this.idle !== null) clearTimeout(this.idle);
    this.idle = null;
    this.gop = [];
    this.reader?.close(reason);
    this.reader = null;
    for (const v of [...this.viewers.keys()]) v.close(reason);
    this.viewers.clear();
    this.onClosed(this);
  }

  private onUnit(u: MediaUnit): void {
    if (u.kind === 'data') return;
    if (u.kind === 'video') {
      if (u.codec !== 'avc') return this.warnOnce(`video codec ${u.codec} cannot be sent over WHEP (H.264 only)`);
      this.hasVideo = true;
      if (u.config) {
        const cfg = parseAvcConfig(u.payload);
        if (cfg) ({ sps: this.sps, pps: this.pps, lengthSize: this.lengthSize } = cfg);
        return;
      }
      const nalus = splitAvcc(u.payload, this.lengthSize).filter((n) => (n[0]! & 0x1f) !== 9); // AUDs carry nothing for RTP
      const inband = nalus.some((n) => (n[0]! & 0x1f) === 7);
      const au = u.keyframe && !inband ? [...this.sps, ...this.pps, ...nalus] : nalus;
      const ts = Math.round(u.pts * 90) >>> 0;
      const pkts = packetizeH264(au).map((p, i): OutPacket => ({ video: true, payload: p.payload, marker: p.marker, ts, keyStart: i === 0 && u.keyframe, seq: this.seqs.video++ }));
      if (u.keyframe) {
        this.gop = [];
        this.gopBytes = 0;
        this.keyframes.keyframe();
      }
      if (this.nack !== null) for (const p of pkts) this.nack.push(p);
      this.emit(pkts);
      return;
    }
    if (u.config) return;
    if (u.codec !== 'opus') return this.warnOnce(`audio codec ${u.codec} arrived un-transcoded; WHEP carries Opus only`);
    this.emit([{ video: false, payload: u.payload, marker: true, ts: Math.round(u.dts * 48) >>> 0, keyStart: false, seq: this.seqs.audio++ }]);
  }

  private emit(pkts: OutPacket[]): void {
    for (const p of pkts) {
      if (this.gop.length > 0 || p.keyStart) {
        this.gopBytes += p.payload.length;
        if (this.gopBytes > this.maxGopBytes) {
          this.gop = []; // new viewers wait for the next keyframe (and ask for one)
          this.gopBytes = 0;
        } else this.gop.push(p);
      }
      for (const [v, state] of this.viewers) {
        if (!state.started) {
          if (p.keyStart || (!this.hasVideo && !p.video)) state.started = true;
          else continue;
        }
        if (state.backlog === null) this.deliver(v, p);
        else if (state.backlog.push(p) > MAX_REPLAY_BACKLOG) {
          this.viewers.delete(v);
          v.close(`join replay fell ${MAX_REPLAY_BACKLOG} packets behind`);
          this.armIdle();
        }
      }
    }
  }

  private deliver(v: FanoutViewer, p: OutPacket): void {
    this.stats.packetsOut++;
    this.stats.bytesOut += p.payload.length;
    v.send(p);
  }

  private warnOnce(msg: string): void {
    if (this.warned.has(msg)) return;
    this.warned.add(msg);
    this.log.warn({ streamId: this.streamId }, msg);
  }
}
