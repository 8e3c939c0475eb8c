/**
 * Strom as an RTSP client that plays (RFC 2326 §10, Appendix A state machine; RFC 7826 §13):
 * OPTIONS (its answer tells which keep-alive the server knows), DESCRIBE (redirects, §11.3: at
 * most MAX_REDIRECTS hops, a loop is refused), SETUP of every track Strom can ingest (H.264,
 * H.265, AAC, Opus; others are skipped), PLAY of the aggregate URL. Each track is set up over UDP
 * (its own port pair, client-udp.ts) or interleaved in the RTSP connection (§10.12); a 461
 * Unsupported Transport for UDP is retried over TCP. Everything runs against one deadline;
 * failures are LIVE_SOURCE_* catalog errors naming the masked URL, and nothing stays open after
 * one.
 */
import type { Logger } from 'pino';
import { fail, isStromError, type StromError } from '../../errors.js';
import { ClientUdpPair } from './client-udp.js';
import { ingestTrack, type IngestTrack } from './ingest-tracks.js';
import { RtspClient } from './rtsp-client.js';
import { contentBase, requestUrl, resolveControl } from './rtsp-client-url.js';
import type { RtspResponse } from './rtsp-message.js';
import { parseTransportAnswer } from './rtsp-transport.js';
import { parseSdp, type SdpMedia } from './sdp.js';

/** Redirect hops followed before giving up. */
export const MAX_REDIRECTS = 3;

/** How to open a playing session. */
export interface PlayOptions {
  /** The URL as errors show it. */
  display: string;
  /** `udp`: UDP first, TCP for tracks refused with 461; `tcp`: interleaved only. */
  transport: 'udp' | 'tcp';
  /** When everything up to the PLAY answer must be done (ms since the epoch). */
  deadline: number;
  /** The connect budget, for the timeout's message. */
  timeoutMs: number;
  maxBodyBytes: number;
  maxFrameBytes: number;
  log: Logger;
}

/** One set-up track and where its packets arrive. */
export interface PlayingTrack {
  media: SdpMedia;
  ingest: IngestTrack;
  /** The UDP pair, or null when interleaved. */
  udp: ClientUdpPair | null;
  /** Interleaved RTP and RTCP channels (TCP). */
  channels: [number, number];
}

/** A session the server is playing. */
export interface PlayingSession {
  client: RtspClient;
  /** The aggregate control URL (PLAY, keep-alives, TEARDOWN). */
  url: string;
  tracks: PlayingTrack[];
  /** GET_PARAMETER when OPTIONS listed it, else OPTIONS (RFC 2326 §10.8 "keep-alive"). */
  keepAlive: 'GET_PARAMETER' | 'OPTIONS';
}

/** Connect to `url`, DESCRIBE, SETUP and PLAY; throws a LIVE_SOURCE_* error. */
export async function openPlaying(url: URL, o: PlayOptions): Promise<PlayingSession> {
  const seen = new Set<string>();
  let current = url;
  for (let hop = 0; ; hop++) {
    const target = requestUrl(current);
    if (seen.has(target)) throw fail('LIVE_SOURCE_PROTOCOL', o.display, `redirect loop back to a URL already visited (after ${hop} hops)`);
    seen.add(target);
    const client = await RtspClient.open({ url: current, display: o.display, maxBodyBytes: o.maxBodyBytes, budgetMs: o.timeoutMs }, left(o, 'connection'));
    const tracks: PlayingTrack[] = [];
    try {
      const r = await describe(client, target, o);
      if ('location' in r) {
        if (hop >= MAX_REDIRECTS) throw fail('LIVE_SOURCE_PROTOCOL', o.display, `more than ${MAX_REDIRECTS} redirects`);
        current = redirectTarget(current, r.location, o.display);
        o.log.info({ hop: hop + 1 }, 'rtsp source redirected');
        client.close('redirected');
        continue;
      }
      for (const m of r.media) tracks.push(await setup(client, r.base, m, tracks.length, o));
      const play = resolveControl(r.base, r.control);
      check(await client.request('PLAY', play, left(o, 'an answer to PLAY'), [['Range', 'npt=0.000-']]), 'PLAY', o.display);
      return { client, url: play, tracks, keepAlive: r.getParameter ? 'GET_PARAMETER' : 'OPTIONS' };
    } catch (err) {
      client.close('connect failed');
      for (const t of tracks) t.udp?.close();
      throw err;
    }
  }
}

type Described = { location: string } | { base: string; control: string; media: Array<SdpMedia & { ingest: IngestTrack }>; getParameter: boolean };

async function describe(client: RtspClient, target: string, o: PlayOptions): Promise<Described> {
  const opts = await client.request('OPTIONS', target, left(o, 'an answer to OPTIONS'));
  if (opts.status >= 300 && opts.status < 400) return { location: location(opts, o.display) };
  if (opts.status === 401) check(opts, 'OPTIONS', o.display); // credentials refused: DESCRIBE would be too
  const getParameter = /\bGET_PARAMETER\b/i.test(opts.headers.get('public') ?? '');
  const res = await client.request('DESCRIBE', target, left(o, 'an answer to DESCRIBE'), [['Accept', 'application/sdp']]);
  if (res.status >= 300 && res.status < 400) return { location: location(res, o.display) };
  check(res, 'DESCRIBE', o.display);
  let sdp;
  try {
    sdp = parseSdp(res.body.toString('utf8'));
  } catch (err) {
    throw isStromError(err) ? fail('LIVE_SOURCE_PROTOCOL', o.display, err.message) : err;
  }
  const media: Array<SdpMedia & { ingest: IngestTrack }> = [];
  for (const m of sdp.media) {
    const ingest = ingestTrack(m, o.maxFrameBytes);
    if (ingest === null) o.log.info({ kind: m.kind, encoding: m.encoding || m.payloadType }, 'rtsp source track skipped: codec not supported');
    else media.push({ ...m, ingest });
  }
  if (media.length === 0) {
    throw fail('LIVE_SOURCE_PROTOCOL', o.display, `no track Strom can ingest (offered: ${sdp.media.map((m) => `${m.kind} ${m.encoding || m.payloadType}`).join(', ') || 'none'}; supported: H264, H265, MPEG4-GENERIC AAC, OPUS)`);
  }
  return { base: contentBase(res.headers, target), control: sdp.control, media, getParameter };
}

async function setup(client: RtspClient, base: string, m: SdpMedia & { ingest: IngestTrack }, index: number, o: PlayOptions): Promise<PlayingTrack> {
  const uri = resolveControl(base, m.control);
  const channels: [number, number] = [index * 2, index * 2 + 1];
  if (o.transport === 'udp') {
    const udp = await ClientUdpPair.open(client.remoteAddress).catch((err: Error) => {
      throw fail('LIVE_SOURCE_UNREACHABLE', o.display, `no local UDP ports: ${err.message}`);
    });
    try {
      const { rtpPort, rtcpPort } = udp.ports;
      const res = await client.request('SETUP', uri, left(o, 'an answer to SETUP'), [['Transport', `RTP/AVP;unicast;client_port=${rtpPort}-${rtcpPort}`]]);
      if (res.status !== 461) {
        check(res, 'SETUP', o.display);
        const t = parseTransportAnswer(res.headers.get('transport'));
        if (t !== null && t.tcp && t.interleaved !== null) { // the server chose TCP anyway
          udp.close();
          return { media: m, ingest: m.ingest, udp: null, channels: t.interleaved };
        }
        udp.peer(t?.source ?? client.remoteAddress, t?.serverPort?.[1] ?? 0);
        return { media: m, ingest: m.ingest, udp, channels };
      }
      o.log.info({ track: index }, 'rtsp source refused UDP (461): track set up over TCP');
    } catch (err) {
      udp.close();
      throw err;
    }
    udp.close();
  }
  const res = await client.request('SETUP', uri, left(o, 'an answer to SETUP'), [['Transport', `RTP/AVP/TCP;unicast;interleaved=${channels[0]}-${channels[1]}`]]);
  check(res, 'SETUP', o.display);
  const t = parseTransportAnswer(res.headers.get('transport'));
  return { media: m, ingest: m.ingest, udp: null, channels: t?.interleaved ?? channels };
}

/** Throw the LIVE_SOURCE_* error an unsuccessful answer means. */
function check(res: RtspResponse, method: string, display: string): void {
  const s = res.status;
  if (s >= 200 && s < 300) return;
  const what = `${method} answered ${s}`;
  if (s === 401) throw fail('LIVE_SOURCE_REFUSED', display, `${what}: credentials missing or refused`);
  if (s === 403 || s === 404) throw fail('LIVE_SOURCE_REFUSED', display, `${what}: ${s === 404 ? 'no such stream' : 'forbidden'}`);
  if (s >= 300 && s < 400) throw fail('LIVE_SOURCE_PROTOCOL', display, `${what}: a redirect is only followed on DESCRIBE`);
  if (s >= 400 && s < 500) throw fail('LIVE_SOURCE_REFUSED', display, what);
  throw fail('LIVE_SOURCE_UNREACHABLE', display, what);
}

function location(res: RtspResponse, display: string): string {
  const l = res.headers.get('location');
  if (l === undefined || l === '') throw fail('LIVE_SOURCE_PROTOCOL', display, `redirect ${res.status} without a Location`);
  return l;
}

/** The next URL of a redirect; credentials carry over to the same host only. */
function redirectTarget(from: URL, loc: string, display: string): URL {
  let next: URL;
  try {
    next = new URL(loc, from);
  } catch {
    throw fail('LIVE_SOURCE_PROTOCOL', display, 'redirect to something that is not a URL');
  }
  const scheme = next.protocol.toLowerCase();
  if (scheme !== 'rtsp:' && scheme !== 'rtsps:') throw fail('LIVE_SOURCE_PROTOCOL', display, `redirect to a ${scheme} URL`);
  if (next.username === '' && next.password === '' && next.hostname === from.hostname) {
    next.username = from.username;
    next.password = from.password;
  }
  return next;
}

/** Milliseconds left before the deadline; throws LIVE_SOURCE_TIMEOUT when none. */
function left(o: PlayOptions, what: string): number {
  const ms = o.deadline - Date.now();
  if (ms <= 0) throw fail('LIVE_SOURCE_TIMEOUT', o.display, what, o.timeoutMs);
  return ms;
}

/** Whether an error means retrying cannot help without a person changing something. */
export function isPermanent(err: StromError): boolean {
  return err.code === 'LIVE_SOURCE_REFUSED' || err.code === 'LIVE_SOURCE_BAD_URL';
}
