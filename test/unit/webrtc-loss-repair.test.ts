/**
 * The loss-repair components of the WHEP fan-out: keyframe-request coalescing (a PLI storm from 50
 * viewers → one request upstream per GOP; a publisher that cannot be asked is never asked) and the
 * shared NACK cache (bounded by packets and age, found by fan-out sequence number); and on the WHIP
 * side the NACK requester (one retry per round trip, RTT from first tries only) and the reorder
 * buffer's per-gap wait.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { KeyframeRequests } from '../../src/live/webrtc/keyframe-requests.js';
import type { KeyframeCounts } from '../../src/live/webrtc/webrtc-metrics.js';
import { NackCache } from '../../src/live/webrtc/nack-cache.js';
import { NackRequester } from '../../src/live/webrtc/nack-requester.js';
import { ReorderBuffer } from '../../src/live/rtp/reorder-buffer.js';
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

test('NACK requester: asks at once, again one round trip later, never after the repair wait; RTT from first tries only', () => {
  const c = clock();
  const sent: number[][] = [];
  let giveUp = 300;
  const r = new NackRequester((seqs) => sent.push(seqs), () => giveUp, c.now);
  try {
    r.onPacket(65534);
    r.onPacket(1); // 65535 and 0 missing, across the wrap
    assert.deepEqual(sent, [[65535, 0]]);
    c.advance(50);
    r.poll();
    assert.equal(sent.length, 1, 'no retry within a round trip (a sender ignores it)');
    c.advance(r.retryMs - 50);
    r.poll();
    assert.deepEqual(sent[1], [65535, 0], 'asked again one round trip later');
    c.advance(30);
    r.onPacket(65535); // answers the second request: no RTT sample (Karn)
    assert.equal(r.rttMs, 100);
    assert.equal(r.stats.recovered, 1);
    c.advance(r.retryMs);
    r.poll(); // 0: a third request would arrive after the wait (300 ms) is over
    assert.equal(sent.length, 2);
    c.advance(300);
    r.poll();
    r.onPacket(0); // given up: arriving now changes nothing
    assert.equal(r.stats.recovered, 1);

    r.onPacket(3); // 2 missing
    c.advance(40);
    r.onPacket(2); // the first request's answer: a 40 ms sample
    assert.equal(r.rttMs, 100 + (40 - 100) / 8);
    r.onPacket(5); // 4 missing
    r.onPacket(4); // before it was asked for again: a reordering, not a sample
    assert.equal(r.rttMs, 92.5);
    assert.deepEqual(sent.slice(2), [[2], [4]]);

    giveUp = 0; // a receiver that gives up at once: nothing left to ask after the first request
    r.onPacket(8);
    c.advance(200);
    r.poll();
    assert.deepEqual(sent.slice(4), [[6, 7]]);
    r.onPacket(9000); // a sender restart: nothing asked for
    assert.equal(sent.length, 5);
    assert.equal(r.stats.nacks, 5);
    assert.equal(r.stats.requests, 8);
  } finally {
    r.close();
  }
});

test('reorder buffer: each gap waits its own time; giving up on an old gap keeps a young one open', () => {
  const c = clock();
  const seq = (n: number) => ({ sequenceNumber: n });
  const b = new ReorderBuffer<{ sequenceNumber: number }>(1024, 100, c.now);
  b.push(seq(1));
  assert.deepEqual(b.push(seq(3)), []); // gap at 2
  c.advance(80);
  assert.deepEqual(b.push(seq(5)), []); // gap at 4, 80 ms younger
  c.advance(40);
  assert.deepEqual(b.push(seq(6)).map((p) => p.sequenceNumber), [3], 'the 120 ms old gap is given up, the 40 ms one waits');
  assert.equal(b.stats.lost, 1);
  assert.deepEqual(b.push(seq(4)).map((p) => p.sequenceNumber), [4, 5, 6], 'its retransmission still fills it');
  assert.equal(b.stats.lost, 1);
  b.maxWaitMs = 10; // the wait follows the round trip
  b.push(seq(8));
  c.advance(11);
  assert.deepEqual(b.push(seq(9)).map((p) => p.sequenceNumber), [8, 9]);
  assert.equal(b.stats.lost, 2);
});
