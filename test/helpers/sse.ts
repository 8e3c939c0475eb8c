/**
 * Reading server-sent events (WHATWG HTML §9.2) in tests: the `id`, `event` and `data` fields of
 * each block, data parsed as JSON (Strom sends one JSON object per event).
 */
import type { IncomingMessage } from 'node:http';

/** One server-sent event as a client sees it. */
export interface SseEvent {
  id: string;
  event: string;
  data: Record<string, unknown>;
}

/** Call `each` for every event `res` brings (comment-only blocks are skipped). */
export function onSseEvents(res: IncomingMessage, each: (e: SseEvent) => void): void {
  res.setEncoding('utf8');
  let buf = '';
  res.on('data', (chunk: string) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const f: Record<string, string> = {};
      for (const line of block.split('\n')) {
        const m = /^(id|event|data): (.*)$/.exec(line);
        if (m) f[m[1]!] = m[2]!;
      }
      if (f.event) each({ id: f.id!, event: f.event, data: JSON.parse(f.data!) as Record<string, unknown> });
    }
  });
}
