/**
 * Request coalescing at an edge, as the edge tests (nginx, Varnish, `strom edge`) measure it: many
 * concurrent identical blocking playlist requests for a part the live stream has not published
 * yet, sent through the edge at once while a counting proxy between the edge and the origin
 * records what reached the origin.
 */
import assert from 'node:assert/strict';
import { LIVE_ID, unpublishedPart } from './cdn-origin.js';
import type { CountingProxy } from './counting-proxy.js';
import { request, type FullResponse } from './http-client.js';
import { parseLl } from './ll-hls.js';

/** An answer of the burst, with the milliseconds since the burst started. */
export type BurstAnswer = FullResponse & { ms: number };

/**
 * `count` concurrent identical blocking requests at `edgeUrl` for the first part of a segment that
 * has not started at `originUrl`: all answer 200 with the same playlist listing that part, and
 * exactly one request reached the origin through `proxy`. Resolves with the answers in send order.
 */
export async function blockingBurst(edgeUrl: string, originUrl: string, proxy: CountingProxy, count = 50): Promise<BurstAnswer[]> {
  const { target, msn } = await unpublishedPart(edgeUrl);
  const now = parseLl((await request(`${originUrl}/live/${LIVE_ID}/index.m3u8`)).body.toString());
  assert.ok((now.mediaSequence ?? 0) + now.segments.length < msn, `segment ${msn} has not started`);
  assert.equal(proxy.count(target), 0, 'nobody asked for it yet');
  const t0 = performance.now();
  const answers = await Promise.all(Array.from({ length: count }, async () => {
    const r = await request(`${edgeUrl}${target}`);
    return { ...r, ms: performance.now() - t0 };
  }));
  assert.deepEqual([...new Set(answers.map((a) => a.status))], [200]);
  assert.equal(new Set(answers.map((a) => a.body.toString())).size, 1, `all ${count} got the same playlist`);
  const answered = parseLl(answers[0]!.body.toString());
  assert.ok((answered.mediaSequence ?? 0) + answered.segments.length >= msn, `the answer lists segment ${msn}'s first part`);
  assert.equal(proxy.count(target), 1, 'exactly one request reached the origin');
  return answers;
}

/** How the burst was answered over time: the first answer and the spread of the rest after it, in ms. */
export function burstTimes(answers: BurstAnswer[]): string {
  const times = answers.map((a) => a.ms).sort((x, y) => x - y);
  return `first answer after ${times[0]!.toFixed(0)} ms, the other ${times.length - 1} within ${(times.at(-1)! - times[0]!).toFixed(0)} ms after it`;
}
