/**
 * The RTSP methods Strom answers (RFC 2326 §10, RFC 7826 §13): OPTIONS, DESCRIBE, ANNOUNCE, SETUP,
 * PLAY, RECORD, PAUSE, TEARDOWN and GET_PARAMETER (the keep-alive of ffmpeg and VLC). Publishing is
 * ANNOUNCE (the SDP of the tracks) → SETUP per track → RECORD; reading is DESCRIBE → SETUP per
 * track → PLAY. Access is decided by rtsp-access.ts on ANNOUNCE/DESCRIBE, and again on a SETUP
 * that comes without them.
 */
import type { Logger } from 'pino';
import type { Config } from '../../config.js';
import { isStromError } from '../../errors.js';
import type { StreamRegistry } from '../stream/stream-registry.js';
import { ingestTrack } from './ingest-tracks.js';
import { playTracks } from './play-tracks.js';
import type { RtspAccess, RtspTarget } from './rtsp-access.js';
import { parseRtspUrl } from './rtsp-access.js';
import { interleavedPrefix, type RtspRequest } from './rtsp-message.js';
import { RtspPlayer, type PlayOutput } from './rtsp-play.js';
import { RtspPublisher } from './rtsp-publish.js';
import { RtspSession, type RtspAnswer, type RtspClient, type SessionRole } from './rtsp-session.js';
import type { RtspStats } from './rtsp-stats.js';
import { parseTransport, transportHeader } from './rtsp-transport.js';
import type { RtspUdp } from './rtsp-udp.js';
import { buildSdp, parseSdp } from './sdp.js';

/** What the methods need. */
export interface MethodContext {
  conn: RtspClient;
  config: Config['rtsp'];
  registry: StreamRegistry;
  access: RtspAccess;
  /** The shared UDP sockets, or null when `rtsp.udp` is off. */
  udp: RtspUdp | null;
  stats: RtspStats;
  log: Logger;
}

const PUBLIC = 'OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY, PAUSE, RECORD, TEARDOWN, GET_PARAMETER';

/** Answer one request (CSeq and version are checked by the connection). */
export async function handleRequest(ctx: MethodContext, req: RtspRequest): Promise<RtspAnswer> {
  const { conn } = ctx;
  const sessionHeader = req.headers.get('session')?.split(';')[0]?.trim();
  if (sessionHeader !== undefined && req.method !== 'OPTIONS' && (conn.session === null || conn.session.closed || conn.session.id !== sessionHeader)) {
    return { status: 454, body: `session ${JSON.stringify(sessionHeader.slice(0, 40))} is not open on this connection\n` };
  }
  conn.session?.touch();
  switch (req.method) {
    case 'OPTIONS': return { status: 200, headers: [['Public', PUBLIC]] };
    case 'GET_PARAMETER': return { status: 200 };
    case 'DESCRIBE': return describe(ctx, req);
    case 'ANNOUNCE': return announce(ctx, req);
    case 'SETUP': return setup(ctx, req);
    case 'PLAY': return play(ctx);
    case 'RECORD': return record(ctx);
    case 'PAUSE': return pause(ctx);
    case 'TEARDOWN': {
      const s = conn.session;
      if (s === null) return { status: 454, body: 'no session to tear down\n' };
      return { status: 200, after: () => endSession(ctx, s, 'teardown') };
    }
    default: return { status: 501, headers: [['Public', PUBLIC]], body: `method ${JSON.stringify(req.method.slice(0, 40))} is not implemented\n` };
  }
}

function endSession(ctx: MethodContext, s: RtspSession, reason: string): void {
  s.end(reason);
  ctx.log.info({ session: s.id, streamId: s.role.streamId, role: s.role.kind, reason }, 'rtsp session ended');
  if (ctx.conn.session === s) ctx.conn.session = null;
  ctx.conn.channels.clear();
  ctx.conn.announced = null; // a new session on this connection starts from ANNOUNCE or DESCRIBE again
  ctx.conn.described = null;
}

function target(req: RtspRequest): RtspTarget | RtspAnswer {
  const t = parseRtspUrl(req.uri);
  return t ?? { status: 404, body: `${JSON.stringify(req.uri.slice(0, 120))} is not rtsp://host/live/<name>\n` };
}

function refused(r: { status: number; reason: string; challenge: string[] }): RtspAnswer {
  return { status: r.status, headers: r.challenge.map((c): [string, string] => ['WWW-Authenticate', c]), body: `${r.reason}\n` };
}

/** Base URL of a stream's tracks (Content-Base, RTP-Info). */
function baseUrl(req: RtspRequest, streamId: string): string {
  const m = /^(rtsps?:\/\/[^/]+)/i.exec(req.uri);
  return `${m?.[1] ?? `rtsp://${req.headers.get('host') ?? 'localhost'}`}/live/${streamId}/`;
}

/** Authorize a reader and build its role (tracks of the stream as it is now). */
async function readRole(ctx: MethodContext, req: RtspRequest, t: RtspTarget): Promise<SessionRole | RtspAnswer> {
  const r = await ctx.access.read(req, t, ctx.conn.remoteAddress);
  if (!r.ok) return refused(r);
  let stream;
  try {
    stream = ctx.registry.active(r.streamId) ?? (await ctx.registry.acquire(r.streamId));
  } catch (err) {
    if (!isStromError(err)) throw err;
    return { status: 503, body: `${err.message}\n` };
  }
  if (stream === null) return { status: 404, body: `live stream ${r.streamId} is not live\n` };
  const tracks = playTracks(() => stream.tracks);
  if (tracks.length === 0) return { status: 404, body: `live stream ${r.streamId} has no track RTSP can carry yet (H.264, H.265, AAC, Opus)\n` };
  return { kind: 'read', streamId: r.streamId, tracks, baseUrl: baseUrl(req, r.streamId) };
}

let describeSeq = 0;

async function describe(ctx: MethodContext, req: RtspRequest): Promise<RtspAnswer> {
  const t = target(req);
  if ('status' in t) return t;
  const role = await readRole(ctx, req, t);
  if ('status' in role) return role;
  if (role.kind !== 'read') return { status: 500 };
  ctx.conn.described = role;
  const body = buildSdp({ sessionId: Date.now() * 1000 + (++describeSeq % 1000), address: ctx.conn.socket.localAddress?.replace(/^::ffff:/, '') ?? '0.0.0.0', name: role.streamId, tracks: role.tracks.map((x) => x.sdp) });
  return { status: 200, headers: [['Content-Base', role.baseUrl], ['Content-Type', 'application/sdp']], body };
}

async function announce(ctx: MethodContext, req: RtspRequest): Promise<RtspAnswer> {
  const t = target(req);
  if ('status' in t) return t;
  if (ctx.conn.session !== null) return { status: 455, body: 'this connection already has a session: TEARDOWN first\n' };
  const type = (req.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'application/sdp') return { status: 415, body: `ANNOUNCE needs an application/sdp body, not ${JSON.stringify(type)}\n` };
  const r = await ctx.access.publish(req, t);
  if (!r.ok) return refused(r);
  if (ctx.registry.refuses(r.streamId, t.backup)) return { status: 409, body: `live stream ${r.streamId} already has a ${t.backup ? 'backup ' : ''}publisher\n` };
  const sdp = parseSdp(req.body.toString('utf8'));
  const tracks = sdp.media.map((m) => ingestTrack(m, ctx.config.maxFrameBytes));
  if (!tracks.some((x) => x !== null)) return { status: 415, body: `no supported track in the SDP (offered: ${sdp.media.map((m) => `${m.kind} ${m.encoding || m.payloadType}`).join(', ') || 'none'}; supported: H264, H265, MPEG4-GENERIC AAC, OPUS)\n` };
  ctx.conn.announced = { role: { kind: 'publish', streamId: r.streamId, backup: t.backup, tracks }, controls: sdp.media.map((m) => m.control) };
  ctx.log.info({ streamId: r.streamId, tracks: sdp.media.map((m, i) => `${m.encoding}${tracks[i] ? '' : ' (ignored)'}`) }, 'rtsp announce');
  return { status: 200 };
}

/** Index of the track a SETUP URL's control names among `controls`. */
function trackIndex(control: string | null, controls: readonly string[]): number {
  if (control === null) return controls.length === 1 ? 0 : -1;
  const exact = controls.findIndex((c) => c === control || c.endsWith(`/${control}`));
  if (exact >= 0) return exact;
  const n = Number(/=(\d+)$/.exec(control)?.[1]);
  return Number.isInteger(n) && n < controls.length ? n : -1;
}

async function setup(ctx: MethodContext, req: RtspRequest): Promise<RtspAnswer> {
  const { conn } = ctx;
  const t = target(req);
  if ('status' in t) return t;
  const transport = parseTransport(req.headers.get('transport'));
  if (transport === null || (transport.kind === 'udp' && ctx.udp === null)) {
    return { status: 461, body: `no supported transport in ${JSON.stringify((req.headers.get('transport') ?? '').slice(0, 120))} (RTP/AVP/TCP;interleaved=a-b${ctx.udp ? ' or RTP/AVP;unicast;client_port=a-b' : ''})\n` };
  }
  let session = conn.session;
  if (session === null) {
    let role: SessionRole | RtspAnswer;
    if (conn.announced !== null) role = conn.announced.role;
    else if (conn.described !== null && conn.described.streamId === t.name) role = conn.described;
    else role = await readRole(ctx, req, t);
    if ('status' in role) return role;
    session = new RtspSession(role);
    conn.session = session;
    ctx.log.info({ session: session.id, streamId: role.streamId, role: role.kind }, 'rtsp session created');
  }
  if (session.player?.playing || session.publisher !== null) return { status: 455, body: 'SETUP while playing or recording is not supported\n' };
  const role = session.role;
  const controls = role.kind === 'publish' ? conn.announced?.controls ?? [] : role.tracks.map((x) => x.sdp.control);
  const index = trackIndex(t.control, controls);
  if (index < 0) return { status: 404, body: `no track ${JSON.stringify(t.control)} in this session (${controls.join(', ')})\n` };
  const s = session.setup(index, transport);
  if (transport.kind === 'tcp') {
    for (const [ch, v] of conn.channels) if (v.index === index) conn.channels.delete(ch);
    if (conn.channels.has(transport.rtpChannel) || conn.channels.has(transport.rtcpChannel)) return { status: 461, body: `interleaved channels ${transport.rtpChannel}-${transport.rtcpChannel} are already in use\n` };
    conn.channels.set(transport.rtpChannel, { index, rtcp: false });
    conn.channels.set(transport.rtcpChannel, { index, rtcp: true });
  } else {
    const udp = ctx.udp!;
    const addr = conn.remoteAddress;
    if (udp.taken(addr, transport.rtpPort) || udp.taken(addr, transport.rtcpPort)) return { status: 461, body: `client ports ${transport.rtpPort}-${transport.rtcpPort} are already used by another session\n` };
    const sess = session;
    const h = (rtcp: boolean) => (data: Buffer) => {
      sess.touch(); // RTP and RTCP keep a UDP session alive
      sess.publisher?.packet(index, data, rtcp);
    };
    const a = udp.route(addr, transport.rtpPort, h(false));
    const b = udp.route(addr, transport.rtcpPort, h(true));
    session.onEnd(() => { a(); b(); });
  }
  const header = transportHeader(transport, s.ssrc, ctx.udp?.serverPorts() ?? null, role.kind === 'publish');
  return { status: 200, headers: [['Transport', header]] };
}

function play(ctx: MethodContext): RtspAnswer {
  const { conn } = ctx;
  const s = conn.session;
  if (s === null || s.role.kind !== 'read' || s.setups.size === 0) return { status: 455, body: 'PLAY needs a reading session with at least one SETUP\n' };
  const role = s.role;
  if (s.player?.playing) return { status: 200, headers: [['Range', 'npt=now-']] };
  if (ctx.registry.active(role.streamId) === null) return { status: 404, body: `live stream ${role.streamId} is not live\n` };
  const tracks = [...s.setups.values()].sort((x, y) => x.index - y.index).map((setup) => ({ track: role.tracks[setup.index]!, ssrc: setup.ssrc, out: output(ctx, setup.transport) }));
  const player = new RtspPlayer(role.streamId, tracks, ctx.registry, ctx.stats, `strom-${s.id}`);
  s.player = player;
  return {
    status: 200,
    headers: [['Range', 'npt=now-'], ['RTP-Info', player.rtpInfo(role.baseUrl)]],
    after: () => {
      try {
        player.start((reason) => conn.close(reason), (resume) => { conn.onDrain = resume; });
        ctx.log.info({ session: s.id, streamId: role.streamId, transport: tracks.map((x) => x.out.kind) }, 'rtsp play started');
      } catch (err) {
        conn.close(isStromError(err) ? err.message : String(err));
      }
    },
  };
}

/** Where a reader's track goes: interleaved frames on the connection, or the shared UDP sockets. */
function output(ctx: MethodContext, t: ReturnType<typeof parseTransport> & object): PlayOutput & { kind: string } {
  const { conn } = ctx;
  if (t.kind === 'tcp') {
    // RFC 2326 §10.12: `$`, channel, 16-bit length, then the packet — written as separate buffers
    // (the shared payload is never copied per reader) into a corked socket: one writev per batch.
    return {
      kind: 'tcp',
      send: (rtcp, parts) => {
        let ok = conn.write(interleavedPrefix(rtcp ? t.rtcpChannel : t.rtpChannel, parts.reduce((n, p) => n + p.length, 0)));
        for (const p of parts) ok = conn.write(p) && ok;
        return ok;
      },
      cork: () => conn.cork(),
      uncork: () => conn.uncork(),
    };
  }
  const udp = ctx.udp!;
  return { kind: 'udp', send: (rtcp, parts) => { udp.send(rtcp, parts, rtcp ? t.rtcpPort : t.rtpPort, conn.remoteAddress); return true; } };
}

function record(ctx: MethodContext): RtspAnswer {
  const { conn } = ctx;
  const s = conn.session;
  if (s === null || s.role.kind !== 'publish' || s.setups.size === 0) return { status: 455, body: 'RECORD needs an announced session with at least one SETUP\n' };
  if (s.publisher !== null) return { status: 200 };
  const role = s.role;
  const udp = role.tracks.map((_, i) => s.setups.get(i)?.transport.kind === 'udp');
  const p = new RtspPublisher(s.id, `${conn.remoteAddress}:${conn.socket.remotePort ?? 0}`, role.streamId, role.tracks, udp, role.backup, ctx.config.reorderPackets, ctx.registry, ctx.stats, ctx.log.child({ session: s.id, streamId: role.streamId }), (reason) => conn.close(reason));
  p.start(); // throws LIVE_PUBLISHER_ACTIVE (live.takeover = reject): answered with its status
  s.publisher = p;
  ctx.stats.publishers++;
  s.onEnd(() => ctx.stats.publishers--);
  return { status: 200 };
}

function pause(ctx: MethodContext): RtspAnswer {
  const s = ctx.conn.session;
  if (s === null || s.role.kind !== 'read') return { status: 455, body: 'PAUSE is for reading sessions (a publisher stops with TEARDOWN)\n' };
  s.player?.stop('paused');
  return { status: 200 };
}
