/**
 * An incremental Server-Sent Events parser (WHATWG HTML §9.2.6 "Interpreting an event stream") for
 * the edge's long-lived streams from its origin, such as the playback sync. Bytes go in as they
 * arrive, in chunks cut anywhere (inside a UTF-8 sequence, between CR and LF); each complete event
 * comes out as its type and data. Lines end with LF, CRLF or CR; `data:` lines join with LF;
 * comments (`:`) and `id:` / `retry:` fields are read and dropped (the sync has no ids to resume
 * from: it resyncs by snapshot).
 *
 * Bounded: an unterminated line longer than `maxLineChars` characters is refused instead of
 * buffered forever. Scanning resumes where the previous chunk's scan stopped, so a snapshot
 * arriving as one long line in many chunks costs linear time.
 */
import { fail } from '../errors.js';

/** Longest line (in characters) accepted by default (a snapshot is one line: keys and every signed id). */
export const MAX_SSE_LINE_CHARS = 64 * 1024 * 1024;

/** Receives parsed events. */
export type SseEventHandler = (type: string, data: string) => void;

/** One event stream's parser state. */
export class SseReader {
  private readonly decoder = new TextDecoder('utf-8');
  private buf = '';
  /** Where the next search for a line end starts (the buffer before it holds none). */
  private scanned = 0;
  private type = '';
  private data: string[] = [];

  /** `source` names the stream in errors (an origin URL). */
  constructor(private readonly onEvent: SseEventHandler, private readonly source: string, private readonly maxLineChars = MAX_SSE_LINE_CHARS) {}

  /** Feed the next chunk of the stream; throws EDGE_SYNC_MALFORMED for an overlong line. */
  push(chunk: Uint8Array): void {
    this.buf += this.decoder.decode(chunk, { stream: true });
    const ends = /\r\n?|\n/g;
    let start = 0;
    ends.lastIndex = this.scanned;
    for (let m = ends.exec(this.buf); m !== null; m = ends.exec(this.buf)) {
      // A CR as the last character may be the first half of a CRLF cut between chunks: wait.
      if (m[0] === '\r' && m.index === this.buf.length - 1) break;
      this.line(this.buf.slice(start, m.index));
      start = m.index + m[0].length;
    }
    this.buf = this.buf.slice(start);
    this.scanned = Math.max(0, this.buf.endsWith('\r') ? this.buf.length - 1 : this.buf.length);
    if (this.buf.length > this.maxLineChars) throw fail('EDGE_SYNC_MALFORMED', this.source, `a line longer than ${this.maxLineChars} characters`);
  }

  private line(line: string): void {
    if (line === '') return this.dispatch();
    if (line.startsWith(':')) return; // comment (heartbeat)
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') this.type = value;
    else if (field === 'data') this.data.push(value);
    // id, retry and unknown fields: ignored
  }

  private dispatch(): void {
    const type = this.type || 'message';
    const data = this.data;
    this.type = '';
    this.data = [];
    if (data.length > 0) this.onEvent(type, data.join('\n'));
  }
}
