/**
 * A userspace UDP relay that loses packets on purpose (this machine has no netem qdisc): clients
 * send to the relay's port, the relay forwards to the target and the answers back, dropping a
 * seeded-random share of the datagrams in each direction. One client address per relay socket
 * pair, as SRT uses. Used by the SRT tests and benchmarks; `filter` can exempt datagrams (e.g. the
 * handshake) so a test's loss hits only what it means to.
 */
import dgram from 'node:dgram';

/** Relay settings. */
export interface UdpRelayOptions {
  targetHost: string;
  targetPort: number;
  /** Share of client → target datagrams dropped (0..1). */
  lossUp?: number;
  /** Share of target → client datagrams dropped (0..1). */
  lossDown?: number;
  seed?: number;
  /** Datagrams for which this returns false are never dropped. */
  droppable?: (datagram: Buffer) => boolean;
}

/** A running relay. */
export interface UdpRelay {
  port: number;
  stats: { up: number; down: number; droppedUp: number; droppedDown: number };
  close(): Promise<void>;
}

/** A small seeded PRNG (mulberry32), so a loss pattern can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Start a relay on a free loopback port. */
export async function startUdpRelay(o: UdpRelayOptions): Promise<UdpRelay> {
  const rnd = seededRandom(o.seed ?? 1);
  const front = dgram.createSocket('udp4');
  const back = dgram.createSocket('udp4');
  const stats = { up: 0, down: 0, droppedUp: 0, droppedDown: 0 };
  let client: { address: string; port: number } | null = null;
  const drop = (share: number | undefined, d: Buffer) => share !== undefined && share > 0 && (o.droppable?.(d) ?? true) && rnd() < share;
  front.on('message', (d, r) => {
    client = { address: r.address, port: r.port };
    stats.up++;
    if (drop(o.lossUp, d)) return void stats.droppedUp++;
    back.send(d, o.targetPort, o.targetHost);
  });
  back.on('message', (d) => {
    stats.down++;
    if (client === null) return;
    if (drop(o.lossDown, d)) return void stats.droppedDown++;
    front.send(d, client.port, client.address);
  });
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => back.bind(0, '127.0.0.1', () => r()));
  return {
    port: front.address().port,
    stats,
    close: async () => {
      await new Promise<void>((r) => front.close(() => r()));
      await new Promise<void>((r) => back.close(() => r()));
    },
  };
}

/** SRT datagrams worth dropping in a loss test: data packets (control packets have the top bit set). */
export function srtDataOnly(d: Buffer): boolean {
  return d.length >= 16 && (d[0]! & 0x80) === 0;
}
