/**
 * WebRTC behind a NAT 1:1 mapping and packet loss: Strom binds 127.0.0.1 and announces 127.0.0.2
 * (`webrtc.announcedAddresses`), the port-range relay on 127.0.0.2 forwards to it with 5 % random
 * loss each way, and Chromium plays an ffmpeg RTMP stream over WHEP through it. The page posts its
 * offer without candidates, so Strom can only answer through the relay. Asserts that the media
 * crossed the relay (its counters), that loss happened, and that playback keeps going for ~10 s
 * (framesDecoded rises every 2 s, the connection never `failed`).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { ffmpegPublish, startLive, waitUntil } from '../helpers/live-fixtures.js';
import { relayedWebRtc } from '../helpers/netem.js';
import { launchWebRtcBrowser, playState, waitPlay, webrtcPage } from '../helpers/webrtc.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('WHEP through the relay at announced 127.0.0.2 with 5 % loss each way: media crosses the relay and playback keeps going', { timeout: 90_000 }, async (t) => {
  const { relay, settings } = await relayedWebRtc({ loss: 0.05 });
  const h = await startLive(settings);
  let browser: Browser | null = null;
  const pub = ffmpegPublish(h.rtmpPort, 'secret', 50);
  t.after(async () => {
    pub.child.kill('SIGKILL');
    await browser?.close();
    await h.close();
    await relay.close();
  });
  await h.strom.live.events.next('publish.start');
  await waitUntil(() => h.strom.live.status('cam1').video !== null, 'RTMP video in the hub');
  browser = await launchWebRtcBrowser();
  const viewer = await webrtcPage(browser);
  t.after(() => viewer.close());
  await viewer.page.evaluate((u) => (window as unknown as { whepPlay: (u: string, o: object) => Promise<unknown> }).whepPlay(u, { candidates: false }), `${h.httpUrl}/live/cam1/whep`);
  await waitPlay(viewer.page, (x) => x.frames >= 10, 'first frames through the relay');
  const seen: number[] = [];
  for (let i = 0; i < 5; i++) {
    const before = (await playState(viewer.page)).stats.video?.framesDecoded ?? 0;
    await sleep(2000);
    const after = (await playState(viewer.page)).stats.video?.framesDecoded ?? 0;
    seen.push(after - before);
  }
  const states = await viewer.page.evaluate(() => (window as unknown as { __states: string[] }).__states);
  assert.ok(seen.every((n) => n > 0), `frames decoded per 2 s window: ${seen.join(', ')}`);
  assert.ok(!states.includes('failed'), `connection states ${states.join(' → ')}`);
  assert.ok(relay.stats.down.sent > 500, `relay carried ${relay.stats.down.sent} packets to the browser`);
  assert.ok(relay.stats.up.received > 20, `relay carried ${relay.stats.up.received} packets from the browser (STUN, DTLS, RTCP)`);
  assert.ok(relay.stats.down.dropped > 20, `relay dropped ${relay.stats.down.dropped} packets`);
});
