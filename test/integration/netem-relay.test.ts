/**
 * The impairment relays over real loopback sockets: the UDP port-range mode (127.0.0.2:p →
 * 127.0.0.1:p, answers back from 127.0.0.2:p), counted loss, delay as a lower bound on the round
 * trip, and the TCP relay (bytes intact, delay, loss refused).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import net from 'node:net';
import { startTcpRelay } from '../../bench/netem/tcp-relay.js';
import { startUdpPortRange, startUdpRelay } from '../../bench/netem/udp-relay.js';
import { until } from '../helpers/until.js';

/** UDP echo servers on 127.0.0.1 at `count` consecutive ports (a random base, retried if taken). */
async function echoRange(count: number): Promise<{ base: number; close(): void }> {
  for (let attempt = 0; ; attempt++) {
    const base = 46_000 + Math.floor(Math.random() * 3000);
    const socks: dgram.Socket[] = [];
    try {
      for (let i = 0; i < count; i++) {
        const s = dgram.createSocket('udp4');
        socks.push(s);
        await new Promise<void>((resolve, reject) => {
          s.once('error', reject);
          s.bind(base + i, '127.0.0.1', resolve);
        });
        s.on('message', (d, r) => s.send(d, r.port, r.address));
      }
      return { base, close: () => socks.forEach((s) => s.close()) };
    } catch (e) {
      socks.forEach((s) => s.close());
      if (attempt > 10) throw e;
    }
  }
}

test('port range 127.0.0.2:p → 127.0.0.1:p: answers come back from the port asked, through the relay, delayed by both directions', async (t) => {
  const echo = await echoRange(3);
  t.after(() => echo.close());
  const relay = await startUdpPortRange({ listenHost: '127.0.0.2', targetHost: '127.0.0.1', portMin: echo.base, portMax: echo.base + 2, up: { delayMs: 20 }, down: { delayMs: 20 } });
  t.after(() => relay.close());
  const client = dgram.createSocket('udp4');
  t.after(() => client.close());
  await new Promise<void>((r) => client.bind(0, '127.0.0.1', r));
  const answers: { from: string; ms: number }[] = [];
  const sentAt = new Map<string, number>();
  client.on('message', (d, r) => answers.push({ from: `${r.address}:${r.port}`, ms: performance.now() - sentAt.get(d.toString())! }));
  for (let i = 0; i < 3; i++) {
    sentAt.set(`hello ${i}`, performance.now());
    client.send(`hello ${i}`, echo.base + i, '127.0.0.2');
  }
  await until(() => answers.length === 3, 'three echoes', 5000);
  assert.deepEqual(answers.map((a) => a.from).sort(), [0, 1, 2].map((i) => `127.0.0.2:${echo.base + i}`));
  assert.ok(answers.every((a) => a.ms >= 39), `round trips ${answers.map((a) => a.ms.toFixed(1)).join(', ')} ms`);
  assert.equal(relay.stats.up.received, 3);
  assert.equal(relay.stats.down.sent, 3);
  assert.equal(relay.stats.up.delayed, 3);
});

test('10 % loss each way over real sockets: what arrives is exactly what the counters say was sent', async (t) => {
  const echo = await echoRange(1);
  t.after(() => echo.close());
  const relay = await startUdpRelay({ targetHost: '127.0.0.1', targetPort: echo.base, up: { loss: 0.1 }, down: { loss: 0.1 }, seed: 3 });
  t.after(() => relay.close());
  const client = dgram.createSocket('udp4');
  t.after(() => client.close());
  let got = 0;
  client.on('message', () => got++);
  for (let i = 0; i < 2000; i++) {
    client.send(Buffer.alloc(200, i), relay.port, '127.0.0.1');
    if (i % 10 === 9) await new Promise((r) => setTimeout(r, 2)); // paced: a burst overflows the socket buffer of a relay sharing this process
  }
  await until(() => relay.stats.up.received === 2000 && relay.stats.up.sent === relay.stats.down.received && got === relay.stats.down.sent, 'counters settle', 5000);
  assert.equal(relay.stats.up.received, 2000);
  assert.equal(relay.stats.up.sent + relay.stats.up.dropped, 2000);
  const lost = 1 - got / 2000; // two 10 % legs: 19 % expected
  assert.ok(lost > 0.15 && lost < 0.23, `end-to-end loss ${lost}`);
});

test('TCP relay: 256 KiB echoed intact under a rate cap and delay; loss is refused', async (t) => {
  const server = net.createServer((s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const relay = await startTcpRelay({ targetHost: '127.0.0.1', targetPort: (server.address() as net.AddressInfo).port, up: { delayMs: 25, rateBps: 50e6 }, down: { delayMs: 25 } });
  t.after(() => relay.close());
  const payload = Buffer.from(Array.from({ length: 256 * 1024 }, (_, i) => (i * 31) & 255));
  const started = performance.now();
  const echoed = await new Promise<Buffer>((resolve, reject) => {
    const c = net.connect(relay.port, '127.0.0.1', () => c.end(payload));
    const parts: Buffer[] = [];
    c.on('data', (d: Buffer) => parts.push(d));
    c.on('end', () => resolve(Buffer.concat(parts)));
    c.on('error', reject);
  });
  assert.equal(echoed.length, payload.length, JSON.stringify(relay.stats));
  assert.ok(echoed.equals(payload));
  assert.ok(performance.now() - started >= 49, 'both delays applied');
  assert.equal(relay.stats.up.bytes, payload.length);
  assert.equal(relay.stats.connections, 1);
  await assert.rejects(startTcpRelay({ targetHost: '127.0.0.1', targetPort: 1, up: { loss: 0.05 } as never }), /cannot emulate loss/);
});
