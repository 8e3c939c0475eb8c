/**
 * WHEP loss repair over real werift peers: NACKed packets come back retransmitted — the last 128 by
 * werift's per-viewer history, older ones from the stream's shared NACK cache, packets past the
 * cache not at all — and a PLI storm from many viewers of a WHIP stream reaches the publisher as one
 * PLI per GOP.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { avcNaluBody, startLive, startVideoOnlyLive, waitUntil } from '../helpers/live-fixtures.js';
import { weriftPublisher, weriftViewer, type WeriftViewer } from '../helpers/werift-peers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('NACKs: werift resends its last 128 packets, the stream cache older ones, nothing past the cache', async (t) => {
  const { h, pub } = await startVideoOnlyLive(t, { 'webrtc.nackCacheMaxPackets': 1024, 'webrtc.nackCacheMaxAgeMs': 10_000 });
  pub.send(9, 0, avcNaluBody(true, 300));
  await waitUntil(() => h.strom.live.registry.get('cam1')?.tracks.video !== undefined, 'stream live');
  const v = await weriftViewer(`${h.httpUrl}/live/cam1/whep`);
  t.after(() => v.close());
  await waitUntil(() => v.seqs.length > 0, 'the keyframe reached the viewer', 10_000);
  for (let i = 1; i <= 1500; i++) { // one RTP packet per frame, in bursts the loopback socket keeps up with
    pub.send(9, i * 40, avcNaluBody(false, 300));
    if (i % 20 === 0) await sleep(30);
  }
  await waitUntil(() => v.seqs.length >= 1500, `1500 packets at the viewer (${v.seqs.length}, sent ${h.strom.live.webrtc.metrics.stats.packetsOut})`, 15_000);
  const last = v.seqs.at(-1)!;
  const back = (n: number) => (last - n) & 0xffff;
  const wanted = { history: back(20), cache: back(600), miss: back(1300) };
  const st = h.strom.live.webrtc.metrics.stats.nackPackets;
  const before = { ...st };
  const got = v.seqs.length;
  await v.nack([wanted.history, wanted.cache, wanted.miss]);
  await waitUntil(() => st.history + st.cache + st.miss - before.history - before.cache - before.miss === 3, 'the NACK was handled', 5_000);
  await waitUntil(() => v.seqs.length >= got + 2, 'two retransmissions arrived', 5_000);
  await sleep(200);
  const again = v.seqs.slice(got);
  assert.deepEqual([...again].sort(), [wanted.history, wanted.cache].sort(), `retransmitted ${JSON.stringify(again)}`);
  assert.deepEqual({ history: st.history - before.history, cache: st.cache - before.cache, miss: st.miss - before.miss }, { history: 1, cache: 1, miss: 1 });
  const metrics = await (await fetch(`${h.httpUrl}/metrics`)).text().catch(() => '');
  if (metrics.includes('strom_webrtc')) assert.match(metrics, /strom_webrtc_nack_packets_total\{answer="cache"\} [1-9]/);
});

test('a PLI storm from 10 WHEP viewers of a WHIP stream: one PLI to the publisher per GOP', async (t) => {
  const h = await startLive({ 'webrtc.keyframeIntervalMs': 0, 'webrtc.keyframeRequestWindowMs': 2000 });
  const pub = await weriftPublisher(`${h.httpUrl}/whip`, 'secret');
  t.after(async () => {
    await pub.close();
    await h.close();
  });
  const frames = setInterval(() => pub.frame(false), 40);
  t.after(() => clearInterval(frames));
  pub.frame(true);
  await waitUntil(() => h.strom.live.registry.get('cam1')?.tracks.video !== undefined, 'WHIP stream live', 10_000);
  const viewers: WeriftViewer[] = [];
  for (let i = 0; i < 10; i++) viewers.push(await weriftViewer(`${h.httpUrl}/live/cam1/whep`));
  t.after(() => Promise.all(viewers.map((v) => v.close())));
  await waitUntil(() => viewers.every((v) => v.seqs.length > 0), 'every viewer gets video', 10_000);
  pub.frame(true); // answers any request made while viewers joined
  await sleep(600); // past the publisher's 500 ms PLI floor
  const counts = h.strom.live.webrtc.metrics.stats.keyframeRequests;

  for (let gop = 1; gop <= 2; gop++) {
    const plis = pub.plis;
    const sent = counts.sent;
    for (let round = 0; round < 4; round++) { // 1.2 s of repeated PLIs: more than one 500 ms floor
      await Promise.all(viewers.map((v) => v.pli()));
      await sleep(300);
    }
    await sleep(200);
    const st = h.strom.live.webrtc.metrics.stats;
    assert.equal(counts.sent - sent, 1, `GOP ${gop}: one request forwarded for 40 PLIs (${JSON.stringify({ counts, plisReceived: st.plisReceived, plisSent: st.plisSent, pub: pub.plis })})`);
    assert.equal(pub.plis - plis, 1, `GOP ${gop}: the publisher got one PLI`);
    pub.frame(true); // the keyframe that answers it
    await sleep(100);
  }
  assert.ok(counts.coalesced >= 2 * 39, `coalesced ${counts.coalesced}`);
  // werift viewers declare their RTCP SSRC in the offer: their PLIs reach Strom's receivers, not its senders.
  assert.ok(h.strom.live.webrtc.metrics.stats.plisReceived >= 80, `every viewer PLI counted (${h.strom.live.webrtc.metrics.stats.plisReceived})`);
});
