/**
 * A raw HTTP/1.1 client connection for tests that must see exact bytes and control keep-alive and
 * pipelining: requests are written as text, responses parsed by Content-Length (1xx interim
 * responses skipped; HEAD and 304 carry no body).
 */
import net from 'node:net';

/** One parsed response. */
export interface RawReply {
  status: number;
  /** Field names lower-cased (a repeated field keeps its last value). */
  headers: Record<string, string>;
  body: Buffer;
}

/** One keep-alive connection to 127.0.0.1:`port`. */
export class RawConn {
  private buf = Buffer.alloc(0);
  private waiter: (() => void) | null = null;
  closed = false;
  readonly socket: net.Socket;

  constructor(port: number) {
    this.socket = net.connect(port, '127.0.0.1');
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.waiter?.();
    });
    this.socket.on('close', () => {
      this.closed = true;
      this.waiter?.();
    });
    this.socket.on('error', () => undefined);
  }

  /** Write raw request bytes (one request, several pipelined, or a fragment). */
  write(text: string): void {
    this.socket.write(text);
  }

  /** Send `method target` (plus header lines and a JSON body) and read one response. */
  send(method: string, target: string, headers: string[] = [], body = ''): Promise<RawReply> {
    const lines = [`${method} ${target} HTTP/1.1`, 'Host: 127.0.0.1', ...headers];
    if (body !== '') lines.push(`Content-Length: ${Buffer.byteLength(body)}`, 'Content-Type: application/json');
    this.write(`${lines.join('\r\n')}\r\n\r\n${body}`);
    return this.read(method === 'HEAD', `${method} ${target}`);
  }

  /** The next response; `noBody` = it answers a HEAD. */
  async read(noBody = false, what = 'a request'): Promise<RawReply> {
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end >= 0) {
        const head = this.buf.toString('latin1', 0, end).split('\r\n');
        const status = Number(head[0]!.split(' ')[1]);
        const h: Record<string, string> = {};
        for (const l of head.slice(1)) h[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
        if (status >= 100 && status < 200) {
          this.buf = this.buf.subarray(end + 4); // e.g. 103 Early Hints: the final response follows
          continue;
        }
        const len = noBody || status === 304 ? 0 : Number(h['content-length'] ?? 0);
        if (this.buf.length >= end + 4 + len) {
          const out = { status, headers: h, body: Buffer.from(this.buf.subarray(end + 4, end + 4 + len)) };
          this.buf = this.buf.subarray(end + 4 + len);
          return out;
        }
      }
      if (this.closed) throw new Error(`connection closed before a full response to ${what}`);
      await new Promise<void>((r) => (this.waiter = r));
      this.waiter = null;
    }
  }

  close(): void {
    this.socket.destroy();
  }
}
