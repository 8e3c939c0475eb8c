/**
 * A userspace UDP relay that impairs traffic on purpose (this machine has no netem qdisc): clients
 * send to the relay's port, the relay forwards to the target and the answers back, each direction
 * through its own `LinkModel` (loss, rate cap, delay, jitter). Each client address gets its own
 * socket towards the target, so the target sees one peer per client (SRT, ICE).
 *
 * Port-range mode (`startUdpPortRange`) binds LISTEN:p → TARGET:p for every p of a range: with
 * Strom's WebRTC sockets on 127.0.0.1:p and `webrtc.announcedAddresses` = 127.0.0.2, a browser
 * talks to 127.0.0.2:p and every ICE/DTLS/RTP packet crosses the relay (127/8 is all loopback on
 * Linux). All ports share one link per direction, so a rate cap is the link's, not a port's.
 * `droppable` exempts datagrams (e.g. a handshake) from loss so a test's loss hits what it means to.
 */
import dgram from 'node:dgram';
import { DelayLine } from './delay-line.js';
import { LinkModel, seededRandom, type DirectionStats, type Impairment } from './model.js';

/** Relay settings shared by the single-port and the port-range relays. */
export interface UdpLinkOptions {
  targetHost: string;
  /** client → target. */
  up?: Impairment;
  /** target → client. */
  down?: Impairment;
  /** Seeds the one PRNG both directions draw from (default 1). */
  seed?: number;
  /** Datagrams for which this returns false are never lost (still delayed and rate-capped). */
  droppable?: (datagram: Buffer) => boolean;
  /** Distinct clients per listening port; datagrams from more are ignored (default 64). */
  maxClients?: number;
  /** Pending datagrams per direction (delay line bound, default 20,000); more are queue-dropped. */
  maxInFlight?: number;
}

/** Single-port relay settings. */
export interface UdpRelayOptions extends UdpLinkOptions {
  targetPort: number;
  listenHost?: string;
  /** 0 (default) = a free port. */
  listenPort?: number;
}

/** Port-range relay settings: listenHost:p → targetHost:p for p in portMin..portMax. */
export interface UdpPortRangeOptions extends UdpLinkOptions {
  listenHost: string;
  portMin: number;
  portMax: number;
}

/** Counters of both directions; `received` counts datagrams that reached the relay. */
export interface RelayStats {
  up: DirectionStats & { received: number };
  down: DirectionStats & { received: number };
}

/** A running relay. */
export interface UdpRelay {
  /** The (first) listening port. */
  port: number;
  stats: RelayStats;
  close(): Promise<void>;
}

interface Direction {
  model: LinkModel;
  line: DelayLine;
  stats: DirectionStats & { received: number };
}

function direction(o: Impairment | undefined, rnd: () => number, maxInFlight: number): Direction {
  const model = new LinkModel(o ?? {}, rnd);
  return { model, line: new DelayLine(maxInFlight), stats: Object.assign(model.stats, { received: 0 }) };
}

/** Pass one datagram through a direction: counted, judged by the model, sent when due. */
function pass(d: Direction, data: Buffer, droppable: boolean, send: () => void): void {
  d.stats.received++;
  const v = d.model.admit(data.length, performance.now(), droppable);
  if (v.kind !== 'send') return;
  if (!d.line.schedule(v.at, send)) {
    d.stats.sent--;
    d.stats.queueDropped++;
  }
}

const closeSocket = (s: dgram.Socket) => new Promise<void>((r) => s.close(() => r()));

async function bindSocket(host: string, port: number): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, host, () => {
      s.off('error', reject);
      resolve();
    });
  });
  s.on('error', () => undefined); // ICMP port unreachable from a gone peer must not crash the relay
  return s;
}

/** Start a relay over a set of (listen port → target port) pairs sharing one link per direction. */
async function startLink(o: UdpLinkOptions, listenHost: string, pairs: [number, number][]): Promise<UdpRelay> {
  const rnd = seededRandom(o.seed ?? 1);
  const maxInFlight = o.maxInFlight ?? 20_000;
  const up = direction(o.up, rnd, maxInFlight);
  const down = direction(o.down, rnd, maxInFlight);
  const sockets: dgram.Socket[] = [];
  const droppable = (d: Buffer) => o.droppable?.(d) ?? true;
  let port = 0;
  try {
    for (const [listenPort, targetPort] of pairs) {
      const front = await bindSocket(listenHost, listenPort);
      sockets.push(front);
      port ||= front.address().port;
      const backs = new Map<string, Promise<dgram.Socket>>();
      front.on('message', (data, r) => {
        const key = `${r.address}:${r.port}`;
        let back = backs.get(key);
        if (back === undefined) {
          if (backs.size >= (o.maxClients ?? 64)) return;
          back = bindSocket(o.targetHost.startsWith('127.') ? '127.0.0.1' : '0.0.0.0', 0).then((s) => {
            sockets.push(s);
            s.on('message', (answer) => pass(down, answer, droppable(answer), () => front.send(answer, r.port, r.address)));
            return s;
          });
          backs.set(key, back);
        }
        void back.then((s) => pass(up, data, droppable(data), () => s.send(data, targetPort, o.targetHost)));
      });
    }
  } catch (e) {
    await Promise.all(sockets.map(closeSocket));
    throw e;
  }
  return {
    port,
    stats: { up: up.stats, down: down.stats },
    close: async () => {
      up.line.close();
      down.line.close();
      await Promise.all(sockets.map(closeSocket));
    },
  };
}

/** Start a relay on one port (default: a free loopback port) towards targetHost:targetPort. */
export function startUdpRelay(o: UdpRelayOptions): Promise<UdpRelay> {
  return startLink(o, o.listenHost ?? '127.0.0.1', [[o.listenPort ?? 0, o.targetPort]]);
}

/** Start a relay binding listenHost:p and forwarding to targetHost:p for every p in the range. */
export function startUdpPortRange(o: UdpPortRangeOptions): Promise<UdpRelay> {
  if (!(o.portMin > 0 && o.portMax >= o.portMin && o.portMax - o.portMin < 1024)) throw new RangeError(`port range ${o.portMin}-${o.portMax}: at most 1024 ports, min <= max`);
  const pairs: [number, number][] = [];
  for (let p = o.portMin; p <= o.portMax; p++) pairs.push([p, p]);
  return startLink(o, o.listenHost, pairs);
}

/** SRT datagrams worth dropping in a loss test: data packets (control packets have the top bit set). */
export function srtDataOnly(d: Buffer): boolean {
  return d.length >= 16 && (d[0]! & 0x80) === 0;
}
