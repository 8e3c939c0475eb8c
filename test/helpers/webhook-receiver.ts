/**
 * A real HTTP receiver for webhook tests: it records every request (headers and raw body) and
 * answers the n-th with `answer(n)` — a status code, or null to never answer (the client's abort is
 * counted in `closed`). Its port is chosen at once, but it may start listening later
 * (`{ listen: false }`), so a test can begin with a receiver that is down. Closed after the test.
 */
import http from 'node:http';
import type { TestContext } from 'node:test';
import { freePort } from './free-port.js';

/** One request the receiver got. */
export interface Got {
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A running (or not yet listening) receiver. */
export interface WebhookReceiver {
  url: string;
  got: Got[];
  /** Unanswered requests whose client gave up. */
  readonly closed: number;
  /** Start listening on the chosen port. */
  listen(): Promise<void>;
  /** Stop listening and drop open connections. */
  close(): Promise<void>;
  /** Resolve once `n` requests have arrived (rejects after `ms`). */
  next(n: number, ms?: number): Promise<void>;
  /** How often each `Strom-Delivery-Id` arrived. */
  deliveries(): Map<string, number>;
}

/** Create a receiver answering with `answer(n)` (n = 1-based request index). */
export async function webhookReceiver(t: TestContext, answer: (n: number) => number | null, o: { listen?: boolean } = {}): Promise<WebhookReceiver> {
  const state = { got: [] as Got[], closed: 0, waiters: [] as Array<() => void> };
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      state.got.push({ headers: req.headers, body: Buffer.concat(chunks).toString() });
      for (const w of state.waiters.splice(0)) w();
      const code = answer(state.got.length);
      if (code !== null) res.writeHead(code).end();
      else res.on('close', () => state.closed++); // never answers; counts the client giving up
    });
  });
  const port = await freePort();
  const close = () => new Promise<void>((resolve) => {
    srv.closeAllConnections();
    if (!srv.listening) return resolve();
    srv.close(() => resolve());
  });
  t.after(close);
  const r: WebhookReceiver = {
    url: `http://127.0.0.1:${port}/hook`,
    got: state.got,
    get closed() {
      return state.closed;
    },
    listen: () => new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(port, '127.0.0.1', () => resolve());
    }),
    close,
    next: (n, ms = 30_000) => new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`only ${state.got.length} of ${n} webhook requests after ${ms} ms`)), ms);
      const check = () => {
        if (state.got.length < n) return void state.waiters.push(check);
        clearTimeout(timer);
        resolve();
      };
      check();
    }),
    deliveries() {
      const m = new Map<string, number>();
      for (const g of state.got) {
        const id = String(g.headers['strom-delivery-id']);
        m.set(id, (m.get(id) ?? 0) + 1);
      }
      return m;
    },
  };
  if (o.listen !== false) await r.listen();
  return r;
}
