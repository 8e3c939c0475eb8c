/**
 * WebRTC behind a NAT 1:1 mapping and packet loss: Strom binds 127.0.0.1 and announces 127.0.0.2
 * (`webrtc.announcedAddresses`), the port-range relay on 127.0.0.2 forwards to it with 5 % random
 * loss each way, and Chromium plays an ffmpeg RTMP stream over WHEP through it. The page posts its
 * offer without candidates, so Strom can only answer through the relay. Asserts that the media
 * crossed the relay (its counters), that loss happened, and that playback keeps going for ~10 s
 * (framesDecoded rises every 2 s, the connection never `failed`). And a Chromium WHIP publisher
 * through 10 % loss each way: Strom's receiver reports count what NACK and RED repaired, so the
 * publisher is told of the loss left after repair, not the path's (which made its bandwidth
 * estimate and frame rate collapse).
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

test('WHIP through 10 % loss each way: receiver reports give the publisher the loss left after NACK and RED repair', { timeout: 90_000 }, async (t) => {
  const { relay, settings } = await relayedWebRtc({ loss: 0.1, delayMs: 20 });
  const h = await startLive(settings);
  const browser = await launchWebRtcBrowser();
  t.after(async () => {
    await browser.close();
    await h.close();
    await relay.close();
  });
  const pub = await webrtcPage(browser);
  await pub.page.evaluate((u) => (window as unknown as { whipPublish: (u: string, k: string, o: object) => Promise<unknown> }).whipPublish(u, 'secret', { audio: true, candidates: false }), `${h.httpUrl}/whip`);
  await waitUntil(() => h.strom.live.status('cam1').video !== null, 'WHIP video in the hub', 20_000);
  await sleep(12_000); // receiver reports every 0.5–1.5 s
  const report = await pub.page.evaluate(async () => {
    const out: Record<string, { lost: number; sent: number }> = {};
    const stats = await (window as unknown as { __pub: RTCPeerConnection }).__pub.getStats();
    stats.forEach((s: { type: string; kind?: string; packetsLost?: number; packetsSent?: number }) => {
      if (s.type === 'remote-inbound-rtp') out[s.kind!] = { ...(out[s.kind!] ?? { sent: 0 }), lost: s.packetsLost ?? 0 };
      if (s.type === 'outbound-rtp') out[s.kind!] = { ...(out[s.kind!] ?? { lost: 0 }), sent: s.packetsSent ?? 0 };
    });
    return out;
  });
  t.diagnostic(`reported ${JSON.stringify(report)}; relay dropped ${relay.stats.up.dropped} of ${relay.stats.up.received} from the publisher`);
  assert.ok(relay.stats.up.dropped > 50, `the relay dropped publisher packets (${relay.stats.up.dropped})`);
  const audio = report.audio!;
  const video = report.video!;
  assert.ok(audio.sent > 300 && video.sent > 100, `media flowed (${JSON.stringify(report)})`);
  // 10 % raw loss; one RED block leaves ~1 %, a NACK answered within the wait ~0 %.
  assert.ok(audio.lost / audio.sent < 0.05, `audio loss reported after RED repair: ${audio.lost} of ${audio.sent}`);
  assert.ok(video.lost / video.sent < 0.05, `video loss reported after NACK repair: ${video.lost} of ${video.sent}`);
});
