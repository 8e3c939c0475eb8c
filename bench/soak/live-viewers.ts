/**
 * The soak's live viewers, one function per protocol, each as light as a real player's network
 * side: HTTP-FLV and WS-FLV read the stream and count bytes; LL-HLS does blocking playlist reloads
 * (`_HLS_msn`/`_HLS_part`) and fetches each newest part; LL-DASH reads the MPD and fetches the
 * segment in progress and the following ones (chunked, held by the server); WHEP is a werift peer
 * connection receiving H.264. Each resolves with why it ended: "left" when its signal aborted,
 * otherwise the server's or the network's reason. A viewer receiving nothing for 10 s ends as
 * "stalled".
 */
import net from 'node:net';
import { WebSocket } from 'ws';
import { RTCPeerConnection, RTCRtpCodecParameters, useNACK, usePLI } from 'werift';
import { parseLl } from '../../test/helpers/ll-hls.js';

/** A viewer: runs until `signal` aborts (→ "left") or the stream ends (→ the reason). */
export type Viewer = (base: URL, stream: string, signal: AbortSignal) => Promise<string>;

const STALL_MS = 10_000;

/** Resolve once with the first reason; `left` when the signal aborted; a stall ends it too. */
function ending(signal: AbortSignal, close: () => void): { end: (why: string) => void; fed: () => void; done: Promise<string> } {
  let resolve!: (why: string) => void;
  const done = new Promise<string>((r) => (resolve = r));
  let last = Date.now();
  let over = false;
  const timer = setInterval(() => (Date.now() - last > STALL_MS ? end('stalled') : undefined), 2_000);
  const onAbort = (): void => end('left');
  function end(why: string): void {
    if (over) return;
    over = true;
    clearInterval(timer);
    signal.removeEventListener('abort', onAbort);
    close();
    resolve(signal.aborted ? 'left' : why);
  }
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) end('left');
  return { end, fed: () => (last = Date.now()), done };
}

/** HTTP-FLV over a raw socket: status line checked, bytes counted. */
export const httpFlv: Viewer = (base, stream, signal) => {
  const s = net.connect(Number(base.port), base.hostname);
  const e = ending(signal, () => s.destroy());
  let head = '';
  let bytes = 0;
  s.on('connect', () => s.write(`GET /live/${stream}.flv HTTP/1.1\r\nHost: ${base.host}\r\n\r\n`));
  s.on('data', (d: Buffer) => {
    if (bytes === 0 && head.length < 12) {
      head += d.toString('latin1', 0, 12);
      if (head.length >= 12 && !head.startsWith('HTTP/1.1 200')) e.end(`status ${head.slice(9, 12)}`);
    }
    bytes += d.length;
    e.fed();
  });
  s.on('end', () => e.end(`server ended the response after ${bytes} bytes`));
  s.on('error', (err) => e.end(err.message));
  s.on('close', () => e.end('socket closed'));
  return e.done;
};

/** WS-FLV: one binary message per FLV tag. */
export const wsFlv: Viewer = (base, stream, signal) => {
  const ws = new WebSocket(`ws://${base.host}/live/${stream}.flv`);
  const e = ending(signal, () => ws.terminate());
  ws.on('message', () => e.fed());
  ws.on('unexpected-response', (_req, res) => e.end(`status ${res.statusCode}`));
  ws.on('close', (code) => e.end(`websocket closed ${code}`));
  ws.on('error', (err) => e.end(err.message));
  return e.done;
};

/** GET `url` to the end; returns the status (bytes read and dropped). */
async function get(url: string | URL, signal: AbortSignal): Promise<number> {
  const r = await fetch(url, { signal });
  await r.arrayBuffer();
  return r.status;
}

/** LL-HLS: blocking playlist reloads and the newest part of each. */
export const llHls: Viewer = async (base, stream, signal) => {
  const root = new URL(`/live/${stream}/index.m3u8`, base);
  let next: [number, number] | null = null;
  try {
    for (;;) {
      const q = next ? `?_HLS_msn=${next[0]}&_HLS_part=${next[1]}` : '';
      const r = await fetch(`${root.href}${q}`, { signal });
      const text = await r.text();
      if (r.status !== 200) return `playlist ${r.status}`;
      const m = parseLl(text);
      if (m.endList) return 'playlist ended';
      const pre = m.preloadSegment?.parts ?? [];
      const newest = pre.at(-1) ?? m.segments.at(-1)?.parts?.at(-1);
      if (newest) {
        const part = new URL(newest.uri, root);
        const st = await get(part, signal);
        if (st !== 200) return `part ${st} ${part.pathname}`;
      }
      next = [(m.mediaSequence ?? 0) + m.segments.length, pre.length];
    }
  } catch (err) {
    return signal.aborted ? 'left' : (err as Error).message;
  }
};

/** The last SegmentTemplate of an MPD and its timing. */
function template(mpd: string): { media: string; init: string; d: number; ast: number } | null {
  const t = [...mpd.matchAll(/<SegmentTemplate [^>]*\bduration="(\d+)"[^>]*initialization="([^"]+)"[^>]*media="([^"]+)"/g)].at(-1);
  const ast = /availabilityStartTime="([^"]+)"/.exec(mpd);
  return t && ast ? { d: Number(t[1]), init: t[2]!, media: t[3]!, ast: Date.parse(ast[1]!) } : null;
}

/** LL-DASH: the MPD, its init segment, then the segment in progress and each next one (chunked). */
export const llDash: Viewer = async (base, stream, signal) => {
  const mpdUrl = new URL(`/live/${stream}/manifest.mpd`, base);
  try {
    let misses = 0;
    let last = '';
    while (misses < 3) {
      const r = await fetch(mpdUrl, { signal });
      const t = template(await r.text());
      if (r.status !== 200 || !t) return `manifest ${r.status}`;
      if ((await get(new URL(t.init, mpdUrl), signal)) !== 200) return 'init segment missing';
      let n = Math.floor((Date.now() - t.ast) / t.d);
      const until = Date.now() + 20_000; // re-read the MPD every ~20 s as players do
      while (Date.now() < until) {
        const st = await get(new URL(t.media.replace('$Number$', String(n)), mpdUrl), signal);
        if (st !== 200) {
          misses++;
          last = `segment ${n} → ${st}`;
          break;
        }
        misses = 0;
        n++;
      }
    }
    return `segments missing three times (${last})`;
  } catch (err) {
    return signal.aborted ? 'left' : (err as Error).message;
  }
};

/** WHEP: a werift peer receiving H.264 until it disconnects; leaving DELETEs the session. */
export const whep: Viewer = async (base, stream, signal) => {
  const pc = new RTCPeerConnection({
    codecs: { video: [new RTCRtpCodecParameters({ mimeType: 'video/H264', clockRate: 90000, rtcpFeedback: [useNACK(), usePLI()], parameters: 'level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f' })] },
    iceServers: [], iceAdditionalHostAddresses: ['127.0.0.1'], iceUseIpv6: false,
  });
  let location: string | null = null;
  const e = ending(signal, () => {
    if (location) void fetch(location, { method: 'DELETE' }).catch(() => undefined);
    void pc.close();
  });
  try {
    pc.addTransceiver('video', { direction: 'recvonly' }).onTrack.subscribe((track) => track.onReceiveRtp.subscribe(() => e.fed()));
    pc.connectionStateChange.subscribe((s) => (s === 'failed' || s === 'closed' ? e.end(`peer connection ${s}`) : undefined));
    await pc.setLocalDescription(await pc.createOffer());
    while (pc.iceGatheringState !== 'complete') await new Promise((r) => setTimeout(r, 20));
    const url = new URL(`/live/${stream}/whep`, base);
    const res = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/sdp' }, body: pc.localDescription!.sdp, signal });
    const answer = await res.text();
    if (res.status !== 201) e.end(`whep ${res.status} ${answer.slice(0, 100)}`);
    else {
      location = new URL(res.headers.get('Location')!, url).href;
      await pc.setRemoteDescription({ type: 'answer', sdp: answer });
    }
  } catch (err) {
    e.end((err as Error).message);
  }
  return e.done;
};
