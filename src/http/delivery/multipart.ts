/**
 * `multipart/byteranges` bodies (RFC 9110 §14.6) for requests with more than one satisfiable range.
 * The whole body is assembled up front so Content-Length is exact; range count is capped in range.ts.
 */
import { randomBytes } from 'node:crypto';
import type { ByteRange } from './range.js';

/** A prepared multipart response: content type with boundary, and the parts in order. */
export interface MultipartPlan {
  contentType: string;
  length: number;
  /** Interleaved header buffers and byte ranges to copy from the object. */
  pieces: Array<Buffer | ByteRange>;
}

/** Lay out a multipart/byteranges body for `ranges` of an object of `size` bytes and `type`. */
export function planMultipart(ranges: ByteRange[], size: number, type: string): MultipartPlan {
  const boundary = `strom-${randomBytes(12).toString('hex')}`;
  const pieces: Array<Buffer | ByteRange> = [];
  let length = 0;
  ranges.forEach((r, i) => {
    const head = Buffer.from(`${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${type}\r\nContent-Range: bytes ${r.start}-${r.end}/${size}\r\n\r\n`);
    pieces.push(head, r);
    length += head.length + (r.end - r.start + 1);
  });
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
  pieces.push(tail);
  length += tail.length;
  return { contentType: `multipart/byteranges; boundary=${boundary}`, length, pieces };
}
