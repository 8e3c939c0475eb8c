/**
 * A userspace TCP relay with delay and a throughput cap (per direction, shared by all connections:
 * one link). It terminates TCP on both sides, so it CANNOT emulate loss: the kernel's TCP on each
 * leg retransmits on its own, and the peers only ever see a lossless, slower stream. Delay is
 * applied per chunk read (order kept: jitter never reorders a byte stream). Memory is bounded: a
 * direction holding more than `maxBufferBytes` pauses reading its source (TCP back-pressure).
 */
import net from 'node:net';
import { DelayLine } from './delay-line.js';
import { LinkModel, seededRandom, type DirectionStats, type Impairment } from './model.js';

/** What a TCP relay may do: loss and reordering are not possible over TCP. */
export type TcpImpairment = Omit<Impairment, 'loss' | 'gilbert' | 'reorder'>;

/** TCP relay settings. */
export interface TcpRelayOptions {
  targetHost: string;
  targetPort: number;
  listenHost?: string;
  /** 0 (default) = a free port. */
  listenPort?: number;
  up?: TcpImpairment;
  down?: TcpImpairment;
  seed?: number;
  /** Bytes held per direction and connection before its source is paused (default 4 MiB). */
  maxBufferBytes?: number;
}

/** A running TCP relay; `stats` count chunks (reads), not packets. */
export interface TcpRelay {
  port: number;
  stats: { up: DirectionStats & { bytes: number }; down: DirectionStats & { bytes: number }; connections: number };
  close(): Promise<void>;
}

/** Start a TCP relay. */
export async function startTcpRelay(o: TcpRelayOptions): Promise<TcpRelay> {
  for (const imp of [o.up, o.down] as (Impairment | undefined)[]) {
    if (imp && (imp.loss || imp.gilbert || imp.reorder)) throw new RangeError('a TCP relay cannot emulate loss or reordering: it terminates TCP on both sides');
  }
  const rnd = seededRandom(o.seed ?? 1);
  const models = { up: new LinkModel({ queueMaxPackets: Infinity, queueMaxBytes: Infinity, ...o.up }, rnd), down: new LinkModel({ queueMaxPackets: Infinity, queueMaxBytes: Infinity, ...o.down }, rnd) };
  const stats = { up: Object.assign(models.up.stats, { bytes: 0 }), down: Object.assign(models.down.stats, { bytes: 0 }), connections: 0 };
  const line = new DelayLine(Infinity);
  const maxBuffer = o.maxBufferBytes ?? 4 * 1024 * 1024;
  const open = new Set<net.Socket>();

  /** Pipe `from` → `to` through one direction's model, keeping byte order. */
  const pipe = (from: net.Socket, to: net.Socket, dir: 'up' | 'down') => {
    let held = 0;
    let last = 0;
    from.on('data', (chunk: Buffer) => {
      stats[dir].bytes += chunk.length;
      const v = models[dir].admit(chunk.length, performance.now(), false);
      if (v.kind !== 'send') return; // unreachable: no loss, unbounded queue (the byte bound is below)
      last = Math.max(last, v.at);
      held += chunk.length;
      if (held > maxBuffer) from.pause();
      line.schedule(last, () => {
        held -= chunk.length;
        if (!to.destroyed) to.write(chunk);
        if (held <= maxBuffer && from.isPaused()) from.resume();
      });
    });
    from.on('end', () => line.schedule(last, () => to.end()));
  };

  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    stats.connections++;
    const target = net.connect({ port: o.targetPort, host: o.targetHost, allowHalfOpen: true });
    for (const s of [client, target]) {
      open.add(s);
      s.on('error', () => {
        client.destroy();
        target.destroy();
      });
      s.on('close', () => open.delete(s)); // half-open: each side's FIN is forwarded after its delayed bytes
    }
    pipe(client, target, 'up');
    pipe(target, client, 'down');
  });
  await new Promise<void>((resolve) => server.listen(o.listenPort ?? 0, o.listenHost ?? '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    stats,
    close: async () => {
      line.close();
      for (const s of open) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
