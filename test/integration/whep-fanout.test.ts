/**
 * The WHEP fan-out's join path against a real hub fed over RTMP: started ahead of its first viewer
 * (at offer time) and closed after `webrtc.fanoutIdleMs` without viewers; a joining viewer gets the
 * cached keyframe at once and the rest of the GOP over the following event-loop turns, in order,
 * with live packets queued behind the replay. The viewer is a packet collector (no werift peer: the
 * RTP/SRTP side is covered by test/e2e/webrtc-whip-whep.test.ts).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { FanoutViewer, OutPacket } from '../../src/live/webrtc/whep-playback.js';
import { avcNaluBody as avcFrame, startVideoOnlyLive, waitUntil } from '../helpers/live-fixtures.js';

function collector(): FanoutViewer & { packets: OutPacket[]; closed: string | null } {
  const c = {
    packets: [] as OutPacket[], closed: null as string | null,
    send: (p: OutPacket) => void c.packets.push(p),
    close: (reason: string) => void (c.closed = reason),
  };
  return c;
}

test('WHEP fan-out: ready before its viewer, keyframe at once, GOP replay paced and in order, idle close', async (t) => {
  const { h, pub } = await startVideoOnlyLive(t, { 'webrtc.fanoutIdleMs': 400, 'webrtc.sessionTimeoutMs': 500 });
  pub.send(9, 0, avcFrame(true, 20_000)); // a keyframe of ~17 RTP packets
  for (let i = 1; i <= 200; i++) pub.send(9, i * 40, avcFrame(false, 300)); // 200 one-packet frames
  const svc = h.strom.live.webrtc;
  await waitUntil(() => (h.strom.live.registry.get('cam1')?.tracks.video !== undefined), 'stream live');
  await new Promise((resolve) => setTimeout(resolve, 300)); // let every frame reach the hub's GOP cache

  // An offer arrives: the fan-out starts and packetizes the hub's GOP before any viewer connects.
  const f = svc.prepare('cam1');
  assert.equal(svc.fanoutCount, 1);
  await waitUntil(() => f.cachedBytes > 20_000 + 200 * 300 - 1000, 'the GOP is cached in the fan-out');

  const v = collector();
  f.add(v);
  const atOnce = v.packets.length;
  assert.ok(v.packets[0]!.keyStart, 'the first packet starts the keyframe');
  assert.ok(v.packets.at(-1)!.marker && atOnce >= 15 && atOnce < 40, `only the keyframe went out at once (${atOnce} packets)`);
  for (let i = 201; i <= 210; i++) pub.send(9, i * 40, avcFrame(false, 300)); // live frames during the replay
  await waitUntil(() => v.packets.filter((p) => p.marker).length === 211, 'keyframe + 200 cached + 10 live frames', 10_000);
  const frameTs = v.packets.filter((p) => p.marker).map((p) => p.ts);
  assert.ok(frameTs.every((ts, i) => i === 0 || ts > frameTs[i - 1]!), 'frames in decode order, none twice: live ones queued behind the replay');

  // The last viewer leaves: the fan-out stays for fanoutIdleMs (a next viewer joins at once), then closes.
  f.remove(v);
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(svc.fanoutCount, 1, 'kept while idle');
  await waitUntil(() => svc.fanoutCount === 0, 'closed after webrtc.fanoutIdleMs without viewers', 3000);
  assert.equal(v.closed, null, 'the viewer that left is not closed again');

  // Prepared for an offer whose viewer never connects: closed once the session could no longer connect.
  svc.prepare('cam1');
  assert.equal(svc.fanoutCount, 1);
  await waitUntil(() => svc.fanoutCount === 0, 'an unused prepared fan-out closes', 3000);
});

test('WHEP fan-out with fanoutIdleMs 0: waits for the offer\'s viewer, closes when the last viewer leaves', async (t) => {
  const { h, pub } = await startVideoOnlyLive(t, { 'webrtc.fanoutIdleMs': 0, 'webrtc.sessionTimeoutMs': 1000 });
  pub.send(9, 0, avcFrame(true, 2_000));
  const svc = h.strom.live.webrtc;
  await waitUntil(() => (h.strom.live.registry.get('cam1')?.tracks.video !== undefined), 'stream live');
  await new Promise((resolve) => setTimeout(resolve, 200));

  const f = svc.prepare('cam1');
  await new Promise((resolve) => setTimeout(resolve, 300)); // ICE and DTLS take a while
  assert.equal(svc.fanoutCount, 1, 'the fan-out started for the offer waits for its viewer');
  assert.equal(svc.prepare('cam1'), f, 'the same fan-out is found when the viewer connects');
  const v = collector();
  f.add(v);
  pub.send(9, 40, avcFrame(false, 300));
  await waitUntil(() => v.packets.some((p) => p.keyStart) && v.packets.filter((p) => p.marker).length >= 2, 'the viewer gets the keyframe and a live frame');
  f.remove(v);
  assert.equal(svc.fanoutCount, 0, 'closed with its last viewer');

  svc.prepare('cam1');
  await waitUntil(() => svc.fanoutCount === 0, 'a prepared fan-out whose viewer never connects closes after webrtc.sessionTimeoutMs', 3000);
});
