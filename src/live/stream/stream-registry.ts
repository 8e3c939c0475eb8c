/**
 * The live stream registry: which streams exist, who publishes into each, who reads from each,
 * and the status the API reports. Stream keys are resolved through a small `StreamKeyResolver`
 * interface so the metadata store (live_streams table) plugs in without this code knowing it;
 * `staticKeyResolver` serves `live.staticKeys` (the default, and live-wiring's fallback for keys
 * configured by hand). Publishing policy for a key that is
 * already live follows `live.takeover`: 'takeover' (default: OBS reconnects replace the old
 * session, viewers stay) or 'reject' (LIVE_PUBLISHER_ACTIVE).
 * In cluster mode a stream that is not live here may be live on another node: `acquire` asks a
 * pluggable `RemoteStreamSource` (the internal relay, handed over by the live server) to pull it
 * into this registry as a publisher, so every local output serves it unchanged.
 * Backup ingest: a publisher marked backup that connects while a primary is live waits in the
 * stream's standby slot; when the primary leaves it is switched to (`publish.switch`, readers stay,
 * status stays active), and a returning primary waits there until its first keyframe, then takes
 * over again. `live.takeover` applies to the slot a publisher targets.
 * Reconnect window: when a publisher leaves with no standby and `live.reconnectWindowS` > 0, a
 * slate (slate-feed.ts) takes its place (`publish.interrupted`); a publisher that comes back waits
 * in the standby slot and takes over at its first keyframe (`publish.resumed`); otherwise the
 * stream ends when the window does (`publish.stop`, with the original session id).
 */
import type { LivePlaybackGuard } from '../../auth/playback-guard.js';
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { fail } from '../../errors.js';
import { LiveEvents } from './live-events.js';
import { LiveStream, type Publisher } from './stream.js';
import type { StandbyRole } from './standby.js';
import { SlatePublisher, type SlateSource } from './slate-feed.js';
import { SwitchMetrics, type SwitchCounts } from './switch-metrics.js';
import { countsAsViewer, type Reader, type ReaderSink, type ViewerProtocol } from './reader.js';

/** Stream ids allowed in playback URLs. */
export const LIVE_STREAM_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** Maps a publisher's stream key to the live-stream resource it publishes to (null: unknown key; a catalog error: refused for its reason). */
export type StreamKeyResolver = (key: string) => Promise<{ streamId: string } | null>;

/** A resolver over `streamId:key` pairs (the `live.staticKeys` setting). */
export function staticKeyResolver(pairs: readonly string[]): StreamKeyResolver {
  const byKey = new Map<string, string>();
  for (const pair of pairs) {
    const i = pair.indexOf(':');
    if (i <= 0 || i === pair.length - 1) throw fail('CONFIG_INVALID', 'live.staticKeys', pair, 'expected streamId:key');
    byKey.set(pair.slice(i + 1), pair.slice(0, i));
  }
  return async (key) => {
    const streamId = byKey.get(key);
    return streamId === undefined ? null : { streamId };
  };
}

/**
 * Serves viewers that need the stream's audio in another codec (FLV outputs carry AAC, WHEP Opus).
 * The audio bridge (src/live/transcode) implements it; the hub only asks, so it does not depend
 * on ffmpeg or the transcoding layer above it.
 */
export interface AudioCodecAdapter {
  /** A reader fed through a codec bridge, or null when `s`'s audio already suits `codec`. */
  addReader(s: LiveStream, codec: 'aac' | 'opus' | undefined, protocol: ViewerProtocol, sink: ReaderSink, onClose: (r: Reader, reason: string) => void): Reader | null;
  /** Viewers of `streamId` served through bridges (counted in its status). */
  viewersOf(streamId: string): Reader[];
  /** Units dropped for slow bridged viewers of `streamId`. */
  dropsOf(streamId: string): number;
  /** Stop every bridge; resolves once their children are reaped. */
  close(): Promise<void>;
}

/** An adapter that bridges nothing: every viewer reads the source audio. */
const NO_BRIDGES: AudioCodecAdapter = { addReader: () => null, viewersOf: () => [], dropsOf: () => 0, close: async () => undefined };

/**
 * Where a stream that is not live in this process may be live instead: another node of the
 * cluster. The internal relay (src/live/relay) implements it; the hub only asks, so it does not
 * depend on the relay or on Redis.
 */
export interface RemoteStreamSource {
  /**
   * Make `streamId` active here by pulling it from the node that has it (one pull per stream,
   * shared by concurrent callers). Resolves with the active stream, or null when it is live on no
   * node; rejects with a catalog error when it is live elsewhere but cannot be reached.
   */
  pull(streamId: string): Promise<LiveStream | null>;
}

/** What a viewer asks of the stream it reads. */
export interface AddReaderOptions {
  /** Audio codec the output can carry; another source codec is transcoded by the audio bridge. */
  audioCodec?: 'aac' | 'opus';
}

/** Live status of one stream, as the API shows it. */
export interface LiveStreamStatus {
  streamId: string;
  state: 'idle' | 'active';
  publishedAt: string | null;
  /** The active publisher (the one viewers see). */
  publisher: { sessionId: string; remote: string } | null;
  /** The publisher waiting in the standby slot (backup ingest), or null. */
  standby: { sessionId: string; remote: string; role: StandbyRole } | null;
  /** While the publisher is away: since when the slate plays, when the stream ends without one, and why it left. */
  slate: { since: string; until: string; reason: string } | null;
  ingestBitrate: number;
  fps: number;
  video: { codec: string; width?: number; height?: number } | null;
  audio: { codec: string; sampleRate?: number; channels?: number } | null;
  /** Viewers by protocol; `total` counts end viewers, not other nodes relaying the stream (`relay`). */
  viewers: { total: number } & Record<ViewerProtocol, number>;
  drops: number;
  slowDisconnects: number;
  /** Cluster: the node the publisher is connected to when it is not this one (relayed here), else null. */
  originNode: string | null;
}

/** All live streams of the process. */
export class StreamRegistry {
  /** Lifecycle events: publish start/stop/switch, viewer join/leave. */
  readonly events = new LiveEvents();
  /** Publisher switches (backup ingest) since start, by the kind of publisher switched to (metrics). */
  readonly switches: SwitchCounts = { toBackup: 0, toPrimary: 0, toSlate: 0, slateResumed: 0, slateExpired: 0 };
  /** Prometheus counter over `switches` (app.ts registers it). */
  readonly switchMetrics = new SwitchMetrics(this.switches);
  private readonly streams = new Map<string, LiveStream>();

  constructor(
    private readonly config: Config,
    /** Resolves stream keys; live-wiring swaps in the metadata store's through `setResolver`. */
    public resolveKey: StreamKeyResolver,
    private readonly log: Logger,
    /** Viewers wanting the other audio codec go through it (the audio bridge pool). */
    private readonly bridges: AudioCodecAdapter = NO_BRIDGES,
  ) {}

  /** Who may play (signed streams need a token); consulted by HTTP-FLV, WS-FLV and RTMP play. */
  playbackGuard: LivePlaybackGuard | null = null;

  /** Cluster: pulls streams live on other nodes (null on a single node). */
  private remote: RemoteStreamSource | null = null;
  /** Streams pulled from their source URL (null without the store: an edge, a bare test registry). */
  private pulled: RemoteStreamSource | null = null;
  /** Makes slate clips (null: no slate, a stream ends when its publisher leaves). */
  private slates: SlateSource | null = null;
  /** Set by close(): a publisher leaving at shutdown gets no slate. */
  private closing = false;
  /** Checks once a second for publishers that stopped sending media (`live.publisherIdleTimeoutMs`). */
  private watchdog: NodeJS.Timeout | null = null;

  /** Install the slate renderer; the live server does it when `live.reconnectWindowS` > 0. */
  setSlateSource(source: SlateSource | null): void {
    this.slates = source;
  }

  /** Install (or remove) the pulled sources (streams with a source URL, src/live/pull). */
  setPulledSource(source: RemoteStreamSource | null): void {
    this.pulled = source;
  }

  /** Install (or remove) the source of streams live on other nodes; the live server does it in cluster mode. */
  setRemoteSource(source: RemoteStreamSource | null): void {
    this.remote = source;
  }

  /** The stream if it is active in this process, else null (synchronous: the local path never waits). */
  active(streamId: string): LiveStream | null {
    const s = this.streams.get(streamId);
    return s !== undefined && s.active ? s : null;
  }

  /**
   * The active stream `streamId`: the local one, one pulled from its source URL, or — in cluster
   * mode — the stream pulled from the node it is live on (waits for the pull, bounded by the relay's connect timeout). Null when it
   * is live nowhere; rejects when its node cannot be reached. Callers try `active()` first.
   */
  async acquire(streamId: string): Promise<LiveStream | null> {
    const local = this.active(streamId);
    if (local !== null || !LIVE_STREAM_ID.test(streamId)) return local;
    // A stream with a source URL is pulled (on demand); null: it has none, or another node pulls it.
    const pulled = this.pulled === null ? null : await this.pulled.pull(streamId);
    if (pulled !== null || this.remote === null) return pulled;
    return this.remote.pull(streamId);
  }

  /** Swap the key resolver (live-wiring installs the metadata store's at start). */
  setResolver(resolver: StreamKeyResolver): void {
    this.resolveKey = resolver;
  }

  /** The stream with this id, if it has ever been published or read in this process. */
  get(streamId: string): LiveStream | undefined {
    return this.streams.get(streamId);
  }

  /**
   * Whether `live.takeover` = reject refuses a publisher on `streamId` now (SRT and WHIP check
   * before their handshake completes); a backup is refused only when a backup holds its slot.
   */
  refuses(streamId: string, backup: boolean): boolean {
    const s = this.streams.get(streamId);
    return s !== undefined && this.config.live.takeover === 'reject' && this.slotFor(s, backup, false).holder !== null;
  }

  /**
   * A publisher whose connection stays open but sends no media (a frozen encoder, a camera whose
   * pipeline stalled; SRT and TCP keep-alives keep such a session up) holds viewers on a frozen
   * stream forever: after `live.publisherIdleTimeoutMs` without a unit it is closed, which ends the
   * stream (or starts the slate, or switches to a backup) like any publisher leaving.
   */
  private watchStalls(): void {
    const limit = this.config.live.publisherIdleTimeoutMs;
    if (this.watchdog !== null || limit <= 0) return;
    this.watchdog = setInterval(() => {
      const now = Date.now();
      for (const s of this.streams.values()) {
        const p = s.publisher;
        if (p === null || p.slate === true || p.relayFrom !== undefined || now - s.lastMediaAt < limit) continue;
        const reason = `no media for ${Math.round((now - s.lastMediaAt) / 1000)} s (live.publisherIdleTimeoutMs)`;
        this.log.warn({ streamId: s.id, sessionId: p.id, reason }, 'publisher stalled: closed');
        this.stopPublish(s, p, reason);
        p.close(reason);
      }
    }, 1000);
    this.watchdog.unref();
  }

  /** Start publishing `streamId` from `p`; handles takeover/reject and the standby slot. */
  startPublish(streamId: string, p: Publisher): LiveStream {
    this.watchStalls();
    let s = this.streams.get(streamId);
    if (s === undefined) {
      s = new LiveStream(streamId, this.config.live.gopCacheMaxBytes, {
        maxBytes: this.config.live.readerMaxBytes,
        maxUnits: this.config.live.readerMaxUnits,
        graceMs: this.config.live.slowReaderGraceMs,
      }, this.log);
      s.onSwitch = (e) => {
        const stream = s!;
        if (e.to instanceof SlatePublisher) {
          this.switches.toSlate++;
          this.events.emit('publish.interrupted', { streamId: stream.id, sessionId: e.from.id, reason: e.to.reason, reconnectWindowS: this.config.live.reconnectWindowS });
          return;
        }
        if (e.from instanceof SlatePublisher) {
          e.from.close('publisher returned');
          this.switches.slateResumed++;
          this.events.emit('publish.resumed', { streamId: stream.id, sessionId: e.to.id, previousSessionId: e.from.id, afterMs: Date.now() - e.from.since });
          return;
        }
        if (e.to.backup === true) this.switches.toBackup++;
        else this.switches.toPrimary++;
        this.events.emit('publish.switch', { streamId: stream.id, from: e.from.id, to: e.to.id, reason: e.reason, configChanged: e.configChanged });
      };
      this.streams.set(streamId, s);
    }
    const relay = p.relayFrom !== undefined;
    const target = this.slotFor(s, p.backup === true, relay);
    if (target.slot === 'standby') {
      const held = target.holder;
      if (held !== null) {
        if (this.config.live.takeover === 'reject') throw fail('LIVE_PUBLISHER_ACTIVE', streamId);
        this.log.info({ streamId, old: held.id, new: p.id }, 'standby publisher replaced');
        s.dropStandby();
        held.close(`replaced as standby by session ${p.id}`);
      }
      s.setStandby(p, target.role);
      this.log.info({ streamId, sessionId: p.id, role: target.role, active: s.publisher?.id }, 'publisher waits as standby');
      return s;
    }
    const old = s.publisher;
    if (old !== null) {
      // A relay may always replace a relay (the origin moved); anyone else obeys live.takeover.
      if (this.config.live.takeover === 'reject' && !relay) throw fail('LIVE_PUBLISHER_ACTIVE', streamId);
      this.log.info({ streamId, old: old.id, new: p.id }, 'publisher takeover');
      this.stopPublish(s, old, `taken over by ${p.id}`, false);
      old.close(`taken over by session ${p.id}`);
    }
    s.attach(p, old !== null);
    // For this node's status and recording, a local publisher replacing a relay is a new publish.
    const takeover = old !== null && (old.relayFrom !== undefined) === relay;
    this.events.emit('publish.start', { streamId, sessionId: p.id, remote: p.remote, takeover, relay });
    return s;
  }

  /**
   * Stop publishing if `p` is still the publisher; ends readers unless a takeover replaces it, a
   * standby publisher is switched to (then only `publish.switch` is emitted: the stream stays live)
   * or a slate stands in (`publish.interrupted`; `slate` false forbids it: the stream moved away).
   */
  stopPublish(s: LiveStream, p: Publisher, reason: string, endReaders = true, slate = true): void {
    if (s.standby?.publisher === p) {
      s.dropStandby();
      this.log.info({ streamId: s.id, sessionId: p.id, reason }, 'standby publisher left');
      return;
    }
    if (s.publisher !== p) return;
    if (endReaders && s.standby !== null) {
      s.switchToStandby(`${p.backup === true ? 'backup' : 'primary'} left: ${reason}`, false);
      return;
    }
    if (endReaders && slate && this.startSlate(s, p, reason)) return;
    if (p instanceof SlatePublisher) p.close(reason);
    const durationMs = Date.now() - s.publishedAt;
    const bytesIn = s.bytesIn;
    s.detach(reason, endReaders);
    this.events.emit('publish.stop', { streamId: s.id, sessionId: p.id, reason, durationMs, bytesIn, relay: p.relayFrom !== undefined });
  }

  /** Put a slate in place of `p` when the reconnect window allows; false when the stream must end now. */
  private startSlate(s: LiveStream, p: Publisher, reason: string): boolean {
    const windowS = this.config.live.reconnectWindowS;
    const source = this.slates;
    if (source === null || windowS <= 0 || this.closing || p.slate === true || p.relayFrom !== undefined) return false;
    const req = { tracks: { ...s.tracks }, meta: s.meta, fps: s.rates().fps };
    const sp = new SlatePublisher(p.id, reason, s, windowS * 1000, () => {
      this.switches.slateExpired++;
      this.stopPublish(s, sp, `no publisher within the ${windowS} s reconnect window (${reason})`);
    });
    s.setStandby(sp, 'backup');
    s.switchToStandby(`publisher left: ${reason}`, false);
    source.clipFor(req).then((clip) => sp.play(clip), (err: unknown) => {
      this.log.warn({ err, streamId: s.id, sessionId: p.id }, 'no slate could be made: the stream ends');
      this.stopPublish(s, sp, reason);
    });
    return true;
  }

  /**
   * The slot a new publisher targets and who holds it. A backup goes to the standby slot while a
   * primary is live, a primary while a backup is live (it takes over at its first keyframe); a
   * publisher of the active one's kind, and every relay, targets the active slot.
   */
  private slotFor(s: LiveStream, backup: boolean, relay: boolean): { slot: 'active'; holder: Publisher | null } | { slot: 'standby'; holder: Publisher | null; role: StandbyRole } {
    const active = s.publisher;
    // Anyone may replace a slate: it waits in the standby slot and takes over at its first keyframe.
    if (active?.slate === true && !relay) return { slot: 'standby', holder: s.standby?.publisher ?? null, role: 'primary' };
    if (active === null || relay || active.relayFrom !== undefined || backup === (active.backup === true)) return { slot: 'active', holder: active };
    return { slot: 'standby', holder: s.standby?.publisher ?? null, role: backup ? 'backup' : 'primary' };
  }

  /**
   * Attach a viewer to an active stream; throws LIVE_STREAM_NOT_FOUND when it is not live.
   * `opts.audioCodec` asks for the audio in that codec (FLV outputs want AAC, WHEP wants Opus):
   * when the source's audio differs, the reader is served by the audio bridge (src/live/transcode).
   */
  addReader(streamId: string, protocol: ViewerProtocol, sink: ReaderSink, opts: AddReaderOptions = {}): Reader {
    const s = this.streams.get(streamId);
    if (s === undefined || !s.active) throw fail('LIVE_STREAM_NOT_FOUND', streamId);
    const onLeave = (reader: Reader, reason: string) => {
      this.events.emit('viewer.leave', { streamId, viewerId: reader.id, protocol, reason, drops: reader.drops, durationMs: Date.now() - reader.joinedAt });
    };
    const r = this.bridges.addReader(s, opts.audioCodec, protocol, sink, onLeave) ?? s.addReader(protocol, sink, onLeave);
    this.events.emit('viewer.join', { streamId, viewerId: r.id, protocol });
    return r;
  }

  /** Status of one stream (idle when unknown). */
  status(streamId: string): LiveStreamStatus {
    const s = this.streams.get(streamId);
    const viewers = { total: 0, 'http-flv': 0, 'ws-flv': 0, rtmp: 0, 'll-hls': 0, whep: 0, srt: 0, rtsp: 0, restream: 0, relay: 0 };
    if (s === undefined) {
      return { streamId, state: 'idle', publishedAt: null, publisher: null, standby: null, slate: null, ingestBitrate: 0, fps: 0, video: null, audio: null, viewers, drops: 0, slowDisconnects: 0, originNode: null };
    }
    for (const r of [...s.readers, ...this.bridges.viewersOf(streamId)]) {
      const n = r.viewerCount(); // a shared reader (WHEP packetizer) counts all its viewers
      if (countsAsViewer(r.protocol)) viewers.total += n; // another node or a restream output is not a viewer
      viewers[r.protocol] += n;
    }
    const { bitrate, fps } = s.rates();
    const slate = s.publisher instanceof SlatePublisher ? s.publisher : null;
    const v = s.tracks.video;
    const a = s.tracks.audio;
    const num = (x: unknown) => (typeof x === 'number' ? x : undefined);
    return {
      streamId,
      state: s.active ? 'active' : 'idle',
      publishedAt: s.active ? new Date(s.publishedAt).toISOString() : null,
      publisher: s.publisher ? { sessionId: s.publisher.id, remote: s.publisher.remote } : null,
      standby: s.standby ? { sessionId: s.standby.publisher.id, remote: s.standby.publisher.remote, role: s.standby.role } : null,
      slate: slate === null ? null : { since: new Date(slate.since).toISOString(), until: new Date(slate.until).toISOString(), reason: slate.reason },
      ingestBitrate: s.active ? bitrate : 0,
      fps: s.active ? fps : 0,
      video: s.active && v ? { codec: v.codecString, width: num(s.meta.width), height: num(s.meta.height) } : null,
      audio: s.active && a ? { codec: a.codecString, sampleRate: a.sampleRate, channels: a.channels } : null,
      viewers,
      drops: s.totalDrops() + this.bridges.dropsOf(streamId),
      slowDisconnects: s.slowDisconnects,
      originNode: s.publisher?.relayFrom ?? null,
    };
  }

  /** Status of every stream this process knows. */
  list(): LiveStreamStatus[] {
    return [...this.streams.keys()].map((id) => this.status(id));
  }

  /** Close every publisher and reader (shutdown); resolves once the audio bridges' children are reaped. */
  async close(reason = 'server shutting down'): Promise<void> {
    this.closing = true;
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
    for (const s of this.streams.values()) {
      for (const r of [...s.readers]) r.close(reason);
      if (s.standby) {
        const p = s.standby.publisher;
        s.dropStandby(); // before the active one leaves: nothing to switch to at shutdown
        p.close(reason);
      }
      if (s.publisher) {
        const p = s.publisher;
        this.stopPublish(s, p, reason);
        p.close(reason);
      }
    }
    await this.bridges.close(); // audio bridge children reaped before the process exits
  }
}
