/**
 * A TCP pass-through between a cache under test and its origin that records the head of every
 * HTTP/1.1 request going through it, so a test can count what reached the origin (coalescing,
 * hits) and read the exact headers the cache sent (conditional requests, Range). Bytes are
 * forwarded untouched both ways. Only requests without a body are parsed (a cache sends GET and
 * HEAD to the origin; the tests send nothing else through it): a head ends at CRLFCRLF and the
 * next request starts right after it.
 */
import net from 'node:net';

/** One request head as the origin received it. */
export interface SeenRequest {
  method: string;
  /** Request target exactly as sent (path and query). */
  target: string;
  /** Header fields, names lower-cased. */
  headers: Record<string, string>;
  /** Which upstream connection carried it (1-based, in accept order). */
  connection: number;
}

/** A running counting proxy. */
export interface CountingProxy {
  port: number;
  requests: SeenRequest[];
  /** Requests whose target matches (a string matches exactly). */
  count(target: string | RegExp): number;
  close(): Promise<void>;
}

function parseHead(head: string, connection: number): SeenRequest {
  const [line, ...fields] = head.split('\r\n');
  const [method = '', target = ''] = (line ?? '').split(' ');
  const headers: Record<string, string> = {};
  for (const f of fields) {
    const i = f.indexOf(':');
    if (i > 0) headers[f.slice(0, i).trim().toLowerCase()] = f.slice(i + 1).trim();
  }
  return { method, target, headers, connection };
}

/** Listen on a loopback port and forward every connection to 127.0.0.1:`originPort`. */
export async function startCountingProxy(originPort: number): Promise<CountingProxy> {
  const requests: SeenRequest[] = [];
  const open = new Set<net.Socket>();
  let connections = 0;
  const server = net.createServer((client) => {
    const id = ++connections;
    const origin = net.connect(originPort, '127.0.0.1');
    open.add(client).add(origin);
    let pending = '';
    client.on('data', (chunk: Buffer) => {
      pending += chunk.toString('latin1');
      for (let end = pending.indexOf('\r\n\r\n'); end >= 0; end = pending.indexOf('\r\n\r\n')) {
        requests.push(parseHead(pending.slice(0, end), id));
        pending = pending.slice(end + 4);
      }
    });
    client.pipe(origin).pipe(client);
    const drop = () => {
      open.delete(client);
      open.delete(origin);
      client.destroy();
      origin.destroy();
    };
    // An origin that refuses is passed on as a reset, which a cache reports as an origin error.
    origin.on('error', () => {
      client.resetAndDestroy();
      drop();
    });
    client.on('error', drop);
    client.on('close', drop);
    origin.on('close', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port, requests,
    count(target) {
      return requests.filter((r) => (typeof target === 'string' ? r.target === target : target.test(r.target))).length;
    },
    async close() {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
