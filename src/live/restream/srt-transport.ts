/**
 * SRT pushes (caller, live mode) through Strom's own SRT implementation: the stream is muxed to
 * MPEG-TS as for SRT readers and sent in 1316-byte payloads. URLs follow libsrt and ffmpeg:
 * `srt://host:port?streamid=…&passphrase=…&pbkeylen=16|24|32&latency=…`. A separate stream key is
 * the stream id, written `#!::r=<key>,m=publish` (SRT Access Control, which Strom, MediaMTX and
 * SRS read) unless it already is in that syntax. `latency` is read in the unit its value implies:
 * below 10 000 milliseconds (libsrt's URI and srt-live-transmit), from 10 000 on microseconds
 * (ffmpeg's `latency` option, e.g. 200000 = 200 ms), since neither reading makes sense for the
 * other's range. Audio goes out as AAC, which every MPEG-TS ingest takes. UDP has no
 * backpressure: a destination that cannot keep up loses packets (the sender's ring is bounded).
 */
import { fail } from '../../errors.js';
import { callSrt, rejectionOf } from '../srt/protocol/caller.js';
import type { SrtConnection } from '../srt/protocol/connection.js';
import { SrtTsWriter } from '../srt/srt-ts-writer.js';
import type { MediaUnit } from '../stream/media-unit.js';
import { srtParams, type OutputTarget } from './output-url.js';
import type { ConnectOptions, PushConnection, RestreamTransport } from './transport.js';

/** Rejection codes meaning the destination refused this stream itself (key, passphrase, mode): retrying soon will not help. */
const REFUSALS = new Set([1010, 1011, 1400, 1401, 1403, 1405]);

/** Connection settings taken from an srt:// URL. */
export interface SrtSettings {
  host: string;
  port: number;
  streamId: string | undefined;
  passphrase: string | undefined;
  keyLength: 16 | 24 | 32;
  latencyMs: number | undefined;
}

/** The settings of `t`; throws LIVE_OUTPUT_BAD_URL naming what is wrong (never a secret). */
function settingsOf(t: OutputTarget): SrtSettings {
  const key = t.streamKey;
  const s = srtSettings(t.url, (why) => fail('LIVE_OUTPUT_BAD_URL', `srt://${t.url.host}`, why));
  return key ? { ...s, streamId: key.startsWith('#!::') ? key : `#!::r=${key},m=publish` } : s;
}

/**
 * The caller settings of an srt:// URL (libsrt/ffmpeg parameters: streamid, passphrase, pbkeylen,
 * latency, mode=caller, transtype=live); `bad` makes the error naming what is wrong (never a secret).
 */
export function srtSettings(url: URL, bad: (why: string) => Error): SrtSettings {
  if (url.port === '') throw bad('no port (expected srt://host:port?streamid=…)');
  if (url.pathname.replace(/^\/+/, '') !== '') throw bad('srt:// URLs have no path: give the stream id as ?streamid=…');
  const p = srtParams(url);
  const mode = p.get('mode');
  if (mode !== undefined && mode !== 'caller') throw bad(`mode=${mode}: Strom always calls (mode=caller)`);
  const transtype = p.get('transtype');
  if (transtype !== undefined && transtype !== 'live') throw bad(`transtype=${transtype}: only live is supported`);
  const passphrase = p.get('passphrase') || undefined;
  if (passphrase !== undefined && (passphrase.length < 10 || passphrase.length > 79)) throw bad(`the passphrase must be 10 to 79 characters, not ${passphrase.length}`);
  const keyText = p.get('pbkeylen') ?? '16';
  if (keyText !== '16' && keyText !== '24' && keyText !== '32') throw bad(`pbkeylen=${keyText}: 16, 24 or 32 (AES-128/192/256)`);
  let latencyMs: number | undefined;
  const latency = p.get('latency');
  if (latency !== undefined) {
    if (!/^\d+$/.test(latency)) throw bad(`latency=${latency}: an integer (ms below 10000, else µs)`);
    const n = Number(latency);
    latencyMs = n < 10_000 ? n : Math.round(n / 1000);
    if (latencyMs < 20 || latencyMs > 8000) throw bad(`latency=${latency} is ${latencyMs} ms: 20 to 8000 ms`);
  }
  const streamId = p.get('streamid') || undefined;
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port), streamId, passphrase, keyLength: Number(keyText) as 16 | 24 | 32, latencyMs };
}

/** The srt:// transport. */
export const srtTransport: RestreamTransport = {
  schemes: ['srt'],
  audioCodec: 'aac',

  validate(t) {
    settingsOf(t);
  },

  async connect(t: OutputTarget, o: ConnectOptions): Promise<PushConnection> {
    const s = settingsOf(t);
    try {
      const { conn } = await callSrt({ ...s, connectTimeoutMs: o.timeoutMs });
      return srtConnection(conn);
    } catch (err) {
      throw named(err, `${s.host}:${s.port}`);
    }
  },
};

/** A failed call with its rejection code explained; a refusal of the stream itself as LIVE_OUTPUT_REFUSED. */
function named(err: unknown, target: string): unknown {
  const r = rejectionOf(err);
  if (r === null) return err;
  return REFUSALS.has(r.code) ? fail('LIVE_OUTPUT_REFUSED', r.why) : fail('SRT_CONNECT_FAILED', target, r.why);
}

/** Wrap a connected caller as a push connection. */
function srtConnection(conn: SrtConnection): PushConnection {
  const out = new SrtTsWriter(conn);
  conn.onData = () => {}; // a publisher receives nothing but control packets
  const closed = new Promise<string>((resolve) => conn.whenClosed((reason) => resolve(`SRT connection closed: ${reason}`)));
  return {
    write(units: readonly MediaUnit[]) {
      out.write(units);
      return true; // UDP: never backed up
    },
    onDrain: () => {},
    get bytesSent() {
      return conn.sender.stats.bytes;
    },
    closed,
    close: () => conn.close('closed by Strom'),
  };
}
