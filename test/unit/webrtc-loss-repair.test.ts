/**
 * The loss-repair components of the WHEP fan-out: keyframe-request coalescing (a PLI storm from 50
 * viewers → one request upstream per GOP; a publisher that cannot be asked is never asked) and the
 * shared NACK cache (bounded by packets and age, found by fan-out sequence number).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyframeRequests } from '../../src/live/webrtc/keyframe-requests.js';
import type { KeyframeCounts } from '../../src/live/webrtc/webrtc-metrics.js';
import { NackCache } from '../../src/live/webrtc/nack-cache.js';
import type { OutPacket } from '../../src/live/webrtc/whep-playback.js';

function clock(): { now: () => number; advance(ms: number): void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

test('a PLI storm from 50 viewers sends one keyframe request upstream per GOP', () => {
  const c = clock();
  const counts: KeyframeCounts = { sent: 0, coalesced: 0, unsupported: 0 };
  let asked = 0;
  const k = new KeyframeRequests(1000, () => (asked++, true), counts, c.now);
  for (let gop = 0; gop < 3; gop++) {
    for (let round = 0; round < 4; round++) { // viewers repeat their PLI while the picture stays broken
      for (let v = 0; v < 50; v++) k.request();
      c.advance(150);
    }
    assert.equal(asked, gop + 1, `GOP ${gop}: one request upstream for 200 PLIs`);
    k.keyframe(); // the publisher's keyframe answers it
  }
  assert.deepEqual(counts, { sent: 3, coalesced: 597, unsupported: 0 });
});

test('a request that got no keyframe within the window is repeated (the PLI or the keyframe was lost)', () => {
  const c = clock();
  let asked = 0;
  const k = new KeyframeRequests(1000, () => (asked++, true), { sent: 0, coalesced: 0, unsupported: 0 }, c.now);
  k.request();
  c.advance(999);
  k.request();
  assert.equal(asked, 1);
  c.advance(1);
  k.request();
  assert.equal(asked, 2);
});

test('window 0 forwards every request; a publisher that cannot be asked is counted, not asked again per viewer', () => {
  let asked = 0;
  const off = new KeyframeRequests(0, () => (asked++, true), { sent: 0, coalesced: 0, unsupported: 0 });
  for (let v = 0; v < 50; v++) off.request();
  assert.equal(asked, 50);
  const counts: KeyframeCounts = { sent: 0, coalesced: 0, unsupported: 0 };
  const rtmp = new KeyframeRequests(1000, () => false, counts);
  for (let v = 0; v < 50; v++) assert.equal(rtmp.request(), 'unsupported');
  assert.deepEqual(counts, { sent: 0, coalesced: 0, unsupported: 50 });
});

function pkt(seq: number, size = 1000): OutPacket {
  return { video: true, payload: Buffer.alloc(size, seq & 0xff), marker: false, ts: seq * 3000, keyStart: false, seq };
}

test('NACK cache: finds packets by fan-out sequence number within its packet and age bounds', () => {
  const c = clock();
  const cache = new NackCache(256, 500, c.now);
  for (let s = 0; s < 1000; s++) cache.push(pkt(s));
  assert.equal(cache.get(999)?.seq, 999);
  assert.equal(cache.get(744)?.seq, 744, 'the oldest kept packet');
  assert.equal(cache.get(743), undefined, 'overwritten: the ring keeps 256');
  assert.equal(cache.get(1000), undefined, 'not sent yet');
  assert.equal(cache.get(-1), undefined);
  assert.equal(cache.bytes, 256 * 1000);
  c.advance(501);
  cache.push(pkt(1000));
  assert.equal(cache.get(999), undefined, 'older than maxAgeMs');
  assert.equal(cache.get(1000)?.seq, 1000);
});
