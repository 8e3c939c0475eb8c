/**
 * deploy/h3/Caddyfile in front of a real Strom, with real clients: hls.js in Chromium (QUIC on,
 * forced for the front's origin) plays a VOD asset and the LL-HLS live stream, and CDP shows every
 * playlist and segment arriving over h3. Over h2 (node:http2) the front advertises h3 in Alt-Svc,
 * a blocking playlist reload comes back before the next part exists (Caddy does not hold it), the
 * origin sees the viewer's address in X-Forwarded-For and the viewer's traceparent; the embed
 * page's 103 Early Hints reach an h3 viewer (Caddy names the viewer's protocol to Strom, which
 * trusts it as a trustProxy peer) and Chromium uses them; HTTP-FLV and
 * WebSocket-FLV stream through Caddy, and a viewer who leaves is gone at Strom too. One origin (the
 * CDN tests' origin, behind its counting proxy), one Caddy and one browser for the file.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import http2 from 'node:http2';
import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import WebSocket from 'ws';
import { launchBrowser, playInBrowser, type PlayResult } from '../helpers/browser.js';
import { H3_HOST, quicChromiumArgs, recordProtocols, startCaddy, type CaddyFront } from '../helpers/caddy.js';
import { cdnUnavailable } from '../helpers/cdn.js';
import { LIVE_ID, VOD_ID, startCdnOrigin, unpublishedPart, type CdnOrigin } from '../helpers/cdn-origin.js';
import { parseLl, type LlManifest } from '../helpers/ll-hls.js';

const unavailable = cdnUnavailable('caddy', 'caddy');

/** How many parts of segment `msn` and later a playlist lists. */
function partsFrom(m: LlManifest, msn: number): number {
  const first = m.mediaSequence ?? 0;
  const groups = [...m.segments.map((x) => x.parts ?? []), m.preloadSegment?.parts ?? []];
  return groups.reduce((n, parts, i) => n + (first + i >= msn ? parts.length : 0), 0);
}

/** One HTTP/2 request to the front (TLS verified against its certificate, SNI strom.test). */
interface H2Answer { status: number; headers: http2.IncomingHttpHeaders; body: Buffer }

describe('HTTP/3 through Caddy (deploy/h3/Caddyfile) in front of Strom', { skip: unavailable ?? false }, () => {
  let origin: CdnOrigin;
  let front: CaddyFront;
  let browser: Browser;
  let h2: http2.ClientHttp2Session;

  before(async () => {
    // Early Hints on (the CDN origin turns them off for nginx and Varnish) and Caddy believed:
    // the embed page's 103 goes to viewers Caddy names as h2/h3.
    origin = await startCdnOrigin({ 'delivery.earlyHints': true, trustProxy: '127.0.0.1' });
    await origin.strom.control.store.videos.create({ id: VOD_ID, title: 'h3', status: 'ready' });
    front = await startCaddy(origin.proxy.port);
    browser = await launchBrowser(quicChromiumArgs(front));
    h2 = http2.connect(`https://127.0.0.1:${front.port}`, { servername: H3_HOST, ca: readFileSync(front.cert) });
  });
  after(async () => {
    h2?.close();
    const stopped = await Promise.allSettled([browser?.close(), front?.stop()]);
    await origin?.close();
    for (const r of stopped) if (r.status === 'rejected') throw r.reason;
  });

  const get = (target: string, headers: http2.OutgoingHttpHeaders = {}) => new Promise<H2Answer>((resolve, reject) => {
    const req = h2.request({ ':path': target, ':authority': `${H3_HOST}:${front.port}`, ...headers });
    const chunks: Buffer[] = [];
    let head: http2.IncomingHttpHeaders = {};
    req.on('response', (h) => (head = h));
    req.on('data', (d: Buffer) => chunks.push(d));
    req.on('end', () => resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }));
    req.on('error', reject);
  });

  /** Play with hls.js and return what happened plus the protocol of every response. */
  async function playOverQuic(src: string, opts: { lowLatencyMode?: boolean; untilTime?: number }): Promise<PlayResult & { protocols: Map<string, string> }> {
    let protocols = new Map<string, string>();
    const res = await playInBrowser(browser, {
      player: 'hls', src, timeoutMs: 30_000,
      ...(opts.untilTime === undefined ? { untilEnded: true } : { untilTime: opts.untilTime }),
      hlsConfig: { lowLatencyMode: opts.lowLatencyMode ?? false },
      onPage: async (page) => void (protocols = await recordProtocols(page)),
    });
    assert.deepEqual(res.errors.filter((e) => e.includes('fatal') || e.startsWith('media/')), [], `player errors: ${res.errors.join(', ')}; ${String(res.info.firstError)}; caddy: ${front.diagnostics().slice(-2000)}`);
    return { ...res, protocols };
  }

  /** Every playlist and segment/part response came over h3, and there were some of each. */
  function assertAllH3(protocols: Map<string, string>, mediaPattern: RegExp): void {
    const media = [...protocols].filter(([u]) => u.startsWith(front.url) && (u.includes('.m3u8') || mediaPattern.test(u)));
    assert.ok(media.some(([u]) => u.includes('.m3u8')), 'playlists were loaded');
    assert.ok(media.some(([u]) => mediaPattern.test(u)), 'media was loaded');
    for (const [u, p] of media) assert.equal(p, 'h3', `${u} came over ${p}`);
  }

  test('hls.js plays a VOD asset over HTTP/3', async () => {
    const res = await playOverQuic(`${front.url}/v/${VOD_ID}/master.m3u8`, {});
    assert.equal(res.ended, true, `ended (currentTime ${res.currentTime} of ${res.duration})`);
    assertAllH3(res.protocols, /\/(seg_\d+|init)\.m4s$/);
  });

  test('hls.js plays the live stream in low-latency mode over HTTP/3', async () => {
    const res = await playOverQuic(`${front.url}/live/${LIVE_ID}/master.m3u8`, { lowLatencyMode: true, untilTime: 4 });
    assert.ok(res.currentTime >= 4, `played to ${res.currentTime}`);
    assert.equal(res.info.partList, true, 'hls.js saw EXT-X-PART through Caddy');
    const blocking = [...res.protocols.keys()].filter((u) => /index\.m3u8\?.*_HLS_msn=\d+/.test(u));
    assert.ok(blocking.length > 0, 'blocking playlist reloads');
    assertAllH3(res.protocols, /\/part_[0-9a-z]{8}_\d+\.m4s$/);
    console.log(`h3: hls.js LL latency ${String(res.info.latency)} s, ${blocking.length} blocking reloads`);
  });

  test('the embed page\'s 103 Early Hints reach an h3 viewer through Caddy and are used', async () => {
    const page = await browser.newPage();
    try {
      const res = await page.goto(`${front.url}/embed/${VOD_ID}?autoplay=1&muted=1`);
      assert.equal(res?.status(), 200);
      await page.waitForFunction(() => (document.querySelector('video')?.currentTime ?? 0) > 0.5, undefined, { timeout: 20_000 });
      const entries = await page.evaluate(() => (performance.getEntriesByType('resource') as PerformanceResourceTiming[])
        .map((e) => ({ path: new URL(e.name).pathname, initiatorType: e.initiatorType, protocol: e.nextHopProtocol })));
      const master = entries.filter((e) => e.path === `/v/${VOD_ID}/master.m3u8`);
      assert.equal(master.length, 1, `the master was fetched once: ${JSON.stringify(entries)}`);
      assert.equal(master[0]!.initiatorType, 'early-hints', 'the master came from the 103');
      assert.equal(master[0]!.protocol, 'h3');
    } finally {
      await page.close();
    }
  });

  test('Strom-Viewer-Protocol is believed only from a trustProxy peer', async () => {
    // Straight to Strom over HTTP/1.1, as Caddy would send it, from 127.0.0.1 (trusted) and from
    // 127.0.0.2 (not in trustProxy): only the first gets the embed page's 103.
    const informational = (localAddress: string) => new Promise<number[]>((resolve, reject) => {
      const seen: number[] = [];
      const req = httpRequest(`${origin.url}/embed/${VOD_ID}`, {
        localAddress, headers: { 'strom-viewer-protocol': 'HTTP/3.0', 'x-forwarded-for': '198.51.100.7', 'user-agent': 'Mozilla/5.0' },
      });
      req.on('information', (i) => seen.push(i.statusCode));
      req.on('response', (r) => r.resume().on('end', () => resolve(seen)));
      req.on('error', reject);
      req.end();
    });
    assert.deepEqual(await informational('127.0.0.1'), [103], 'a trusted front\'s h3 viewer');
    assert.deepEqual(await informational('127.0.0.2'), [], 'a forged header from anyone else');
  });

  test('over h2 the front advertises h3 in Alt-Svc', async () => {
    const r = await get(`/v/${VOD_ID}/master.m3u8`);
    assert.equal(r.status, 200);
    assert.equal(r.headers['alt-svc'], `h3=":${front.port}"; ma=2592000`);
  });

  test('a blocking playlist reload through Caddy returns as soon as its part exists, before the next one', async () => {
    const { target, msn } = await unpublishedPart(origin.url);
    const answer = await get(target);
    // What the origin has at the moment the answer arrived: with 500 ms parts, a held answer
    // would arrive after the origin had moved on by more than one part.
    const now = parseLl((await get(`/live/${LIVE_ID}/index.m3u8`)).body.toString());
    assert.equal(answer.status, 200, answer.body.toString());
    assert.ok(partsFrom(parseLl(answer.body.toString()), msn) >= 1, `the answer lists part ${msn}.0`);
    const published = partsFrom(now, msn);
    assert.ok(published <= 2, `when the answer arrived the origin had published ${published} parts of segment ${msn} onwards`);
  });

  test('the origin sees the viewer\'s address in X-Forwarded-For (a client-sent one is dropped) and the viewer\'s traceparent', async () => {
    const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
    const target = `/v/${VOD_ID}/master.m3u8?forwarded=1`;
    const r = await get(target, { traceparent, 'x-forwarded-for': '203.0.113.9' });
    assert.equal(r.status, 200);
    const seen = origin.proxy.requests.filter((q) => q.target === target);
    assert.equal(seen.length, 1);
    assert.equal(seen[0]!.headers['x-forwarded-for'], '127.0.0.1', 'an untrusted client\'s X-Forwarded-For is replaced');
    assert.equal(seen[0]!.headers['x-forwarded-proto'], 'https');
    assert.equal(seen[0]!.headers.traceparent, traceparent);
  });

  test('HTTP-FLV streams through Caddy; the viewer leaving reaches Strom', async () => {
    const joined = origin.strom.live.events.next('viewer.join', (e) => e.protocol === 'http-flv');
    const req = h2.request({ ':path': `/live/${LIVE_ID}.flv`, ':authority': `${H3_HOST}:${front.port}` });
    let bytes = Buffer.alloc(0);
    req.on('data', (d: Buffer) => (bytes = Buffer.concat([bytes, d])));
    assert.equal((await joined).protocol, 'http-flv');
    while (bytes.length < 20_000) await new Promise((r) => setTimeout(r, 50));
    assert.equal(bytes.subarray(0, 3).toString(), 'FLV');
    const left = origin.strom.live.events.next('viewer.leave', (e) => e.protocol === 'http-flv');
    req.close();
    assert.equal((await left).protocol, 'http-flv');
  });

  test('WebSocket-FLV works through Caddy', async () => {
    const joined = origin.strom.live.events.next('viewer.join', (e) => e.protocol === 'ws-flv');
    // ws hands TLS options to tls.connect: SNI strom.test selects the front's certificate.
    const tlsOptions: WebSocket.ClientOptions & { servername: string } = { servername: H3_HOST, ca: readFileSync(front.cert), headers: { host: `${H3_HOST}:${front.port}` } };
    const ws = new WebSocket(`wss://127.0.0.1:${front.port}/live/${LIVE_ID}.flv`, tlsOptions);
    const first = new Promise<Buffer>((resolve, reject) => {
      ws.once('message', (d: Buffer) => resolve(d));
      ws.once('error', reject);
    });
    try {
      assert.equal((await joined).protocol, 'ws-flv');
      assert.equal((await first).subarray(0, 3).toString(), 'FLV');
    } finally {
      ws.terminate();
    }
  });
});
