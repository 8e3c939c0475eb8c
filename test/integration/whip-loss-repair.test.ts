/**
 * WHIP ingest under packet loss, over real werift peers through bench/netem's relay (5 % random loss
 * from the publisher, 20 ms each way): packets behind a gap wait `webrtc.ingestRepairWaitMs` for the
 * retransmission a NACK brings, so a loss costs no frame; with the wait at 0 every loss drops
 * frames until the next keyframe. And a retransmission lost as well is asked for again one round
 * trip later (a browser sender answers a packet's NACKs at most once per RTT).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { startLive, waitUntil } from '../helpers/live-fixtures.js';
import { relayedWebRtc } from '../helpers/netem.js';
import { weriftPublisher } from '../helpers/werift-peers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Publish 6 s (a keyframe every 2 s at 25 fps) through a lossy relay; the ingest's counters after.
 * `net` replaces the default relay (5 % random loss from the publisher, 20 ms each way).
 */
async function publishThroughLoss(repairWaitMs: number, net?: Awaited<ReturnType<typeof relayedWebRtc>>) {
  net ??= await relayedWebRtc({ loss: 0.05, delayMs: 20 }, { delayMs: 20 }, 20, 7);
  const h = await startLive({ ...net.settings, 'webrtc.ingestRepairWaitMs': repairWaitMs, 'webrtc.keyframeIntervalMs': 0 });
  try {
    const pub = await weriftPublisher(`${h.httpUrl}/whip`, 'secret', { candidates: false });
    try {
      pub.frame(true);
      await waitUntil(() => h.strom.live.registry.get('cam1')?.tracks.video !== undefined, 'WHIP stream live', 10_000);
      const st = h.strom.live.webrtc.metrics.stats;
      const before = { dropped: st.framesDropped, repaired: st.ingestGapsRepaired, lost: st.ingestPacketsLost };
      for (let i = 1; i <= 150; i++) {
        pub.frame(i % 50 === 0);
        await sleep(40);
      }
      await sleep(500); // the last retransmissions
      return { dropped: st.framesDropped - before.dropped, repaired: st.ingestGapsRepaired - before.repaired, lost: st.ingestPacketsLost - before.lost, relayDropped: net.relay.stats.up.dropped };
    } finally {
      await pub.close();
    }
  } finally {
    await h.close();
    await net.relay.close();
  }
}

test('WHIP at 5 % loss: retransmissions fill the gaps within webrtc.ingestRepairWaitMs; without the wait every loss drops frames', async (t) => {
  // 500 ms rather than the default 200: an event loop stalled by a loaded machine must not give a
  // gap up while its retransmission waits in the socket behind the stall.
  const repaired = await publishThroughLoss(500);
  const unrepaired = await publishThroughLoss(0);
  t.diagnostic(`with the wait ${JSON.stringify(repaired)}; without ${JSON.stringify(unrepaired)}`);
  assert.ok(repaired.relayDropped >= 3, `the relay dropped packets from the publisher (${JSON.stringify(repaired)})`);
  assert.ok(repaired.repaired >= 3, `gaps repaired by retransmission (${JSON.stringify(repaired)})`);
  // A retransmission lost as well (5 % again) may still cost one gap; every other loss is repaired.
  assert.ok(repaired.lost <= 1, `at most one gap given up (${JSON.stringify(repaired)})`);
  assert.ok(unrepaired.lost >= 3 && unrepaired.dropped > repaired.dropped, `without the wait every loss drops frames (${JSON.stringify(unrepaired)})`);
});

/**
 * Drops every 20th video packet and all its copies until 90 ms after its first retransmission
 * arrived: the sender's one answer per round trip is lost, as a browser's would be on a lossy path.
 * (werift's publisher answers every NACK, so a receiver that repeats its NACKs within one RTT —
 * werift's own handler sends ten 5 ms apart — has every copy dropped and gives the gap up.)
 */
function firstRetransmissionLost(): (d: Buffer) => boolean {
  const copies = new Map<number, number>(); // seq → when its first retransmission arrived (0: not yet)
  return (d) => {
    if (d.length < 12 || d[0]! >> 6 !== 2 || (d[1]! >= 192 && d[1]! <= 223)) return false; // RTP only, not RTCP (RFC 5761 §4)
    const seq = d.readUInt16BE(2);
    if (seq % 20 !== 7) return false;
    const first = copies.get(seq);
    if (first === undefined) {
      copies.set(seq, 0); // the original
      return true;
    }
    const now = performance.now();
    if (first === 0) {
      copies.set(seq, now);
      return true;
    }
    return now - first < 90;
  };
}

test('WHIP: a lost retransmission is asked for again one round trip later, and the gap is repaired', async (t) => {
  const net = await relayedWebRtc({ loss: 1, delayMs: 5 }, { delayMs: 5 }, 20, 7, firstRetransmissionLost());
  const r = await publishThroughLoss(1000, net);
  t.diagnostic(JSON.stringify(r));
  assert.ok(r.relayDropped >= 10, `the relay dropped originals and first retransmissions (${JSON.stringify(r)})`);
  assert.ok(r.repaired >= 5, `gaps repaired by a second retransmission (${JSON.stringify(r)})`);
  assert.equal(r.lost, 0, `no gap given up (${JSON.stringify(r)})`);
  assert.equal(r.dropped, 0, `no frame dropped (${JSON.stringify(r)})`);
});
