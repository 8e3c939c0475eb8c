/**
 * A segment requested before it is complete, answered with chunked transfer (SPECS.md "Live DASH":
 * DASH-IF IOP low-latency, ISO/IEC 23009-1 §5.3.9.5.3 availabilityTimeComplete="false"; RFC 9112
 * §7.1 chunked coding): the parts (CMAF chunks, ISO/IEC 23000-19 §7.3.2.3) already produced are
 * written at once, then each further part the moment the muxer completes it — woken by the
 * muxer's part callback (`awaitPart`), no polling timer. The segment ends with its last part.
 * A request for the next segment (the player's clock runs a little ahead when a GOP is longer
 * than the template duration) is held until that segment's first part exists. If the stream ends
 * before the segment is complete, the response is aborted, never left as a short cacheable body.
 */
import type { FastifyReply } from 'fastify';
import { fail } from '../../errors.js';
import type { LlHlsMuxer } from '../formats/hls/ll-hls-muxer.js';
import { segmentName } from '../formats/hls/live-media-names.js';

const IMMUTABLE = 'public, max-age=31536000, immutable';

/** True when `msn` is in production or the next one (worth streaming rather than 404). */
export function streamable(mux: LlHlsMuxer, msn: number): boolean {
  const pos = mux.position();
  return !mux.ended && (msn === pos.msn || msn === pos.msn + 1);
}

/** Stream segment `msn` of `mux` (see the header); hijacks the reply. */
export async function sendChunkedSegment(mux: LlHlsMuxer, msn: number, reply: FastifyReply): Promise<void> {
  const holdMs = 3 * mux.targetDurationS * 1000;
  if (msn > mux.position().msn && !(await mux.waiters.wait(msn, 0, holdMs))) {
    const done = mux.segmentBytes(msn); // completed meanwhile (stream ended)
    if (done === null) throw fail('LIVE_STREAM_NOT_FOUND', segmentName(mux.run, msn));
    reply.header('Cache-Control', IMMUTABLE).type('video/iso.segment').send(done);
    return;
  }
  reply.hijack();
  const res = reply.raw;
  const headers: Record<string, string> = { 'Content-Type': 'video/iso.segment', 'Cache-Control': IMMUTABLE };
  for (const [k, v] of Object.entries(reply.getHeaders())) if (typeof v === 'string') headers[k] = v;
  res.writeHead(200, headers);
  const seg = mux.segments.find((s) => s.msn === msn);
  let next = mux.nextPartSeq;
  if (seg !== undefined) {
    for (const p of seg.parts) res.write(p.bytes);
    if (seg.complete) {
      res.end();
      return;
    }
    next = seg.parts.at(-1)!.seq + 1;
  } else res.flushHeaders();
  let closed = false;
  res.once('close', () => (closed = true));
  while (!closed) {
    let timer: NodeJS.Timeout | undefined;
    const p = await Promise.race([mux.awaitPart(next), new Promise<null>((r) => (timer = setTimeout(() => r(null), holdMs)))]);
    clearTimeout(timer);
    if (p === null || p.msn !== msn) {
      // No further part of this segment: complete only if the segment was closed without one.
      if (p !== null || mux.segments.find((s) => s.msn === msn)?.complete === true && mux.ended) res.end();
      else res.destroy();
      return;
    }
    res.write(p.bytes);
    if (p.lastOfSegment) {
      res.end();
      return;
    }
    next = p.seq + 1;
  }
}
