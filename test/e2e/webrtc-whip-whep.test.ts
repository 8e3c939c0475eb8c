/**
 * WebRTC end to end with real Chromium: a page publishes a canvas (H.264) + oscillator (Opus)
 * through WHIP; another page plays it through WHEP (frames decoded, getStats packets); the same
 * stream is readable as HTTP-FLV; DELETE ends the publish. Then ffmpeg publishes over RTMP and
 * Chromium plays that through WHEP (Opus as RFC 2198 RED, video with the playout-delay extension),
 * and the web UI's live page plays it with its "WebRTC" option.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import { ffmpegPublish, startLive } from '../helpers/live-fixtures.js';
import { launchWebRtcBrowser, waitPlay, webrtcPage } from '../helpers/webrtc.js';

/** Poll `cond` every 100 ms for up to `ms` (generous: the machine may be loaded). */
async function waitUntil(cond: () => boolean, what: string, ms = 20_000): Promise<void> {
  for (const until = Date.now() + ms; !cond() && Date.now() < until;) await new Promise((r) => setTimeout(r, 100));
  assert.ok(cond(), what);
}

test('Chromium publishes over WHIP, another Chromium page plays over WHEP; DELETE ends the publish', { timeout: 90_000 }, async (t) => {
  const h = await startLive();
  let browser: Browser | null = null;
  t.after(async () => {
    await browser?.close();
    await h.close();
  });
  browser = await launchWebRtcBrowser();
  const pub = await webrtcPage(browser);
  const started = h.strom.live.events.next('publish.start');
  const whip = await pub.page.evaluate(([u, k]) => (window as unknown as { whipPublish: (u: string, k: string, o: object) => Promise<{ location: string; etag: string }> }).whipPublish(u!, k!, { audio: true }), [`${h.httpUrl}/whip`, 'secret']);
  assert.match(whip.location, /\/whip\/[A-Za-z0-9_-]{16,}$/);
  assert.match(whip.etag, /^"[^"]+"$/);
  assert.equal((await started).streamId, 'cam1');
  await waitUntil(() => h.strom.live.status('cam1').video !== null, 'WHIP video reaches the hub');
  // Chromium offers red/48000/2: the WHIP answer puts RED first, so the publisher sends Opus with a
  // redundant block and werift hands the ingest plain Opus packets (counted in the hub below).
  const whipSession = [...h.strom.live.webrtc.table.sessions.values()].find((x) => x.role === 'whip')!;
  const whipAudio = whipSession.pc.localDescription!.sdp.split(/(?=^m=)/m).find((m) => m.startsWith('m=audio'))!;
  const whipFirstPt = /^m=audio \S+ \S+ (\d+)/.exec(whipAudio)![1];
  assert.match(whipAudio, new RegExp(`a=rtpmap:${whipFirstPt} red/48000/2`), `RED first in the WHIP audio answer:\n${whipAudio}`);

  const viewer = await webrtcPage(browser);
  await viewer.page.evaluate((u) => (window as unknown as { whepPlay: (u: string) => Promise<unknown> }).whepPlay(u), `${h.httpUrl}/live/cam1/whep`);
  const s = await waitPlay(viewer.page, (x) => x.frames >= 30 && (x.stats.audio?.packetsReceived ?? 0) > 20, 'WHEP viewer decodes video and receives audio');
  assert.ok(s.stats.video!.packetsReceived > 30, JSON.stringify(s.stats));
  assert.deepEqual(s.size, [320, 240]);
  const st = h.strom.live.status('cam1');
  assert.equal(st.video?.codec.startsWith('avc1.'), true, JSON.stringify(st.video));
  assert.equal(st.video?.width, 320);
  assert.equal(st.audio?.codec, 'opus');
  assert.equal(st.viewers.whep, 1, 'one WHEP viewer (counted through the shared packetizer)');
  assert.equal(h.strom.live.webrtc.table.counts().whep, 1);
  const metrics = await (await fetch(`${h.httpUrl}/metrics`)).text();
  assert.match(metrics, /strom_webrtc_sessions\{role="whip"\} 1/);
  assert.match(metrics, /strom_webrtc_rtp_packets_total\{direction="out"\} [1-9]/);

  // Chromium sends keyframes only when asked: Strom asks every webrtc.keyframeIntervalMs (2 s).
  const keyAt: number[] = [];
  let opusFrames = 0;
  const probe = h.strom.live.registry.addReader('cam1', 'http-flv', {
    write(units) {
      for (const u of units) {
        if (u.kind === 'video' && u.keyframe && !u.config) keyAt.push(Date.now());
        if (u.kind === 'audio' && !u.config) opusFrames++;
      }
      return true;
    },
    close() {},
  });
  const probeFrom = Date.now();
  await waitUntil(() => keyAt.length >= 3, 'periodic keyframes from the WHIP publisher', 15_000);
  probe.close('probe done');
  // 20 ms Opus frames arrive at ~50/s when werift takes the RED blocks apart (none would if it did not).
  const perSecond = opusFrames / ((Date.now() - probeFrom) / 1000);
  assert.ok(perSecond >= 35, `Opus frames from the RED-carrying publisher reach the hub (${opusFrames}, ${perSecond.toFixed(1)}/s)`);
  // …and they are Opus, not RED blocks: the WHEP viewer decodes them (garbage would be concealed).
  const heard = await waitPlay(viewer.page, (x) => (x.stats.audio?.totalSamplesReceived ?? 0) > 96_000, 'two seconds of audio at the WHEP viewer');
  const audio = heard.stats.audio!;
  t.diagnostic(`WHIP (RED) → WHEP audio: ${JSON.stringify(audio)}, ${perSecond.toFixed(1)} Opus frames/s into the hub`);
  assert.ok((audio.concealedSamples ?? 0) / audio.totalSamplesReceived! < 0.3, `audio decoded, not concealed: ${JSON.stringify(audio)}`);

  // The WHIP stream is also an ordinary live stream: LL-HLS (Opus in fMP4) and HTTP-FLV serve it.
  const master = await fetch(`${h.httpUrl}/live/cam1/master.m3u8`);
  const masterText = await master.text();
  assert.equal(master.status, 200, masterText);
  assert.match(masterText, /CODECS="[^"]*avc1\.[^"]*opus|CODECS="[^"]*opus[^"]*avc1\./, masterText);
  const media = await fetch(`${h.httpUrl}/live/cam1/index.m3u8`);
  assert.equal(media.status, 200);
  assert.match(await media.text(), /#EXT-X-PART:/);
  const flv = await fetch(`${h.httpUrl}/live/cam1.flv`);
  assert.equal(flv.status, 200);
  const reader = flv.body!.getReader();
  const first = await reader.read();
  assert.equal(Buffer.from(first.value!).subarray(0, 3).toString(), 'FLV');
  await reader.cancel();

  // DELETE ends the publish: publish.stop, the viewer's session and the fan-out are released.
  const stopped = h.strom.live.events.next('publish.stop');
  const del = await fetch(whip.location, { method: 'DELETE' });
  assert.equal(del.status, 200);
  assert.match((await stopped).reason, /DELETE/);
  await waitUntil(() => h.strom.live.webrtc.table.sessions.size === 0 && h.strom.live.webrtc.fanoutCount === 0, 'all sessions and fan-outs released');
  assert.equal(h.strom.live.status('cam1').state, 'idle');
  assert.equal((await fetch(whip.location, { method: 'DELETE' })).status, 404);
  await viewer.close();
  await pub.close();
});

test('ffmpeg publishes over RTMP, Chromium plays it over WHEP with Opus RED and playout-delay', { timeout: 90_000 }, async (t) => {
  const h = await startLive({ 'webrtc.playoutDelayMaxMs': 200 });
  let browser: Browser | null = null;
  const pub = ffmpegPublish(h.rtmpPort, 'secret', 40);
  t.after(async () => {
    pub.child.kill('SIGKILL');
    await browser?.close();
    await h.close();
  });
  await h.strom.live.events.next('publish.start');
  await waitUntil(() => h.strom.live.status('cam1').video !== null, 'RTMP video in the hub');
  browser = await launchWebRtcBrowser();
  const viewer = await webrtcPage(browser);
  await viewer.page.evaluate((u) => (window as unknown as { whepPlay: (u: string) => Promise<unknown> }).whepPlay(u), `${h.httpUrl}/live/cam1/whep`);
  const s = await waitPlay(viewer.page, (x) => x.frames >= 30 && (x.stats.audio?.packetsReceived ?? 0) > 20, 'WHEP viewer decodes the RTMP video and gets its AAC as Opus (audio bridge)');
  assert.ok(s.stats.video!.packetsReceived > 30);
  assert.deepEqual(s.size, [320, 240]);
  // Chromium offers red/48000/2: the answer puts RED first (what Strom sends) and plays it as audio.
  const answer = await viewer.page.evaluate(() => (window as unknown as { __play: RTCPeerConnection }).__play.remoteDescription!.sdp);
  const audio = answer.split('m=audio')[1]!.split('m=video')[0]!;
  const firstPt = /^ \d+ [A-Z/]+ (\d+)/.exec(audio)![1];
  assert.match(audio, new RegExp(`a=rtpmap:${firstPt} red/48000/2`), `RED first in the audio answer:\n${audio}`);
  assert.match(answer.split('m=video')[1]!, /a=extmap:\d+ http:\/\/www\.webrtc\.org\/experiments\/rtp-hdrext\/playout-delay/, 'playout-delay negotiated');
  // Strom answers as the DTLS server, so Chromium sends its ClientHello the moment ICE connects.
  assert.equal(answer.match(/^a=setup:(\w+)/gm)?.every((l) => l === 'a=setup:passive'), true, `passive in every m-line:\n${answer}`);
  const dtlsRole = await viewer.page.evaluate(async () => {
    let role = '';
    (await (window as unknown as { __play: RTCPeerConnection }).__play.getStats()).forEach((x: { type: string; dtlsRole?: string }) => { if (x.type === 'transport') role = x.dtlsRole ?? ''; });
    return role;
  });
  assert.equal(dtlsRole, 'client', 'Chromium is the DTLS client');
  const samples = s.stats.audio!.totalSamplesReceived ?? 0;
  await waitPlay(viewer.page, (x) => (x.stats.audio?.totalSamplesReceived ?? 0) > samples + 48_000, 'audio keeps playing from RED (a second of samples more)');
  assert.ok(h.strom.live.webrtc.metrics.stats.redPackets > 20, 'audio went out as RED');
  await viewer.close();
});

test('the web UI live page plays a stream through its WebRTC (WHEP) option with a latency readout', { timeout: 90_000 }, async (t) => {
  const h = await startLive();
  let browser: Browser | null = null;
  let pub: ReturnType<typeof ffmpegPublish> | null = null;
  t.after(async () => {
    pub?.child.kill('SIGKILL');
    await browser?.close();
    await h.close();
  });
  const token = await signApiToken(h.strom.config, loadApiSecret(h.strom.config), { scopes: ['admin'], ttlS: 600, sub: 'webrtc-e2e' });
  const r = await fetch(`${h.httpUrl}/api/v1/live-streams`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ title: 'WebRTC UI' }) });
  assert.equal(r.status, 201);
  const created = (await r.json()) as { id: string; streamKey: string; ingest: { whip: string }; playback: { whep: string } };
  assert.equal(created.ingest.whip, '/whip');
  assert.equal(created.playback.whep, `/live/${created.id}/whep`);
  pub = ffmpegPublish(h.rtmpPort, created.streamKey, 40);
  await h.strom.live.events.next('publish.start');
  browser = await launchWebRtcBrowser();
  const page = await browser.newPage();
  await page.goto(`${h.httpUrl}/#token=${token}`);
  await page.goto(`${h.httpUrl}/?n=1#/live/${created.id}`);
  assert.equal(await page.locator('#ingest-whip').inputValue(), `${h.httpUrl}/whip`);
  await page.getByLabel('Playback', { exact: true }).selectOption('webrtc');
  await page.locator('#live-state', { hasText: 'LIVE' }).waitFor({ timeout: 30_000 });
  await page.locator('#whep-latency[data-latency-ms]').waitFor({ timeout: 30_000 });
  const ms = Number(await page.locator('#whep-latency').getAttribute('data-latency-ms'));
  assert.ok(Number.isFinite(ms) && ms >= 0, `latency readout ${ms}`);
  await page.waitForFunction(() => {
    const v = document.querySelector('video[aria-label="WebRTC live preview"]') as HTMLVideoElement | null;
    return v !== null && v.videoWidth === 320 && v.currentTime > 0.5;
  }, undefined, { timeout: 30_000 });
  assert.equal(h.strom.live.webrtc.table.counts().whep, 1);
  // Leaving the page DELETEs the WHEP resource.
  await page.evaluate(() => (location.hash = '#/live'));
  for (const until = Date.now() + 15_000; h.strom.live.webrtc.table.counts().whep > 0 && Date.now() < until;) await new Promise((res) => setTimeout(res, 100));
  assert.equal(h.strom.live.webrtc.table.counts().whep, 0, 'the WHEP session ended with the page');
});
