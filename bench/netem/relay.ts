/**
 * Command line for the impairment relays (see bench/netem/README.md):
 *   npx tsx bench/netem/relay.ts --udp|--tcp --listen host:port[-port] --target host:port[-port]
 *     [--loss 5] [--burst 3] [--delay 50] [--jitter 10] [--reorder 1] [--rate 20mbit]
 *     [--direction both|up|down] [--seed 1] [--seconds N]
 * --loss is in %; with --burst it is the mean of Gilbert-Elliott bursty loss of that mean run
 * length. A port range in --listen/--target (same length) relays each port to its counterpart.
 * Counters are printed every 5 s and at exit (after --seconds, or on Ctrl-C).
 */
import { parseArgs } from 'node:util';
import { burstLoss, type Impairment } from './model.js';
import { startTcpRelay } from './tcp-relay.js';
import { startUdpPortRange, startUdpRelay } from './udp-relay.js';

/** Parse "20mbit", "500kbit", "1gbit" or a plain number of bit/s. */
export function parseRate(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(k|m|g)?(bit|bps)?$/i.exec(s.trim());
  if (!m) throw new RangeError(`bad --rate ${s}: use e.g. 20mbit, 500kbit`);
  const mult = { k: 1e3, m: 1e6, g: 1e9 }[(m[2] ?? '').toLowerCase() as 'k' | 'm' | 'g'] ?? 1;
  return Number(m[1]) * mult;
}

/** Parse "host:port" or "host:min-max". */
export function parseEndpoint(s: string): { host: string; min: number; max: number } {
  const m = /^([^:]+):(\d+)(?:-(\d+))?$/.exec(s);
  if (!m) throw new RangeError(`bad endpoint ${s}: use host:port or host:min-max`);
  return { host: m[1]!, min: Number(m[2]), max: Number(m[3] ?? m[2]) };
}

/** The impairment the CLI flags describe. */
export function impairmentFromFlags(v: { loss?: string; burst?: string; delay?: string; jitter?: string; reorder?: string; rate?: string }): Impairment {
  const loss = Number(v.loss ?? 0) / 100;
  const o: Impairment = {};
  if (loss > 0) {
    if (v.burst !== undefined && Number(v.burst) > 1) o.gilbert = burstLoss(loss, Number(v.burst));
    else o.loss = loss;
  }
  if (v.delay !== undefined) o.delayMs = Number(v.delay);
  if (v.jitter !== undefined) o.jitterMs = Number(v.jitter);
  if (v.reorder !== undefined) o.reorder = Number(v.reorder) / 100;
  if (v.rate !== undefined) o.rateBps = parseRate(v.rate);
  return o;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      udp: { type: 'boolean' }, tcp: { type: 'boolean' }, listen: { type: 'string' }, target: { type: 'string' },
      loss: { type: 'string' }, burst: { type: 'string' }, delay: { type: 'string' }, jitter: { type: 'string' }, reorder: { type: 'string' },
      rate: { type: 'string' }, direction: { type: 'string', default: 'both' }, seed: { type: 'string', default: '1' }, seconds: { type: 'string' },
    },
  });
  if (values.udp === values.tcp || !values.listen || !values.target) throw new Error('usage: relay.ts --udp|--tcp --listen host:port[-port] --target host:port[-port] [--loss %] [--burst n] [--delay ms] [--jitter ms] [--reorder %] [--rate 20mbit] [--seconds n]');
  const imp = impairmentFromFlags(values);
  const up = values.direction === 'down' ? {} : imp;
  const down = values.direction === 'up' ? {} : imp;
  const l = parseEndpoint(values.listen);
  const t = parseEndpoint(values.target);
  if (l.max - l.min !== t.max - t.min) throw new RangeError('--listen and --target ranges differ in length');
  const seed = Number(values.seed);
  let relay: { port: number; stats: object; close(): Promise<void> };
  if (values.tcp) relay = await startTcpRelay({ listenHost: l.host, listenPort: l.min, targetHost: t.host, targetPort: t.min, up, down, seed });
  else if (l.min === l.max) relay = await startUdpRelay({ listenHost: l.host, listenPort: l.min, targetHost: t.host, targetPort: t.min, up, down, seed });
  else if (l.min === t.min) relay = await startUdpPortRange({ listenHost: l.host, portMin: l.min, portMax: l.max, targetHost: t.host, up, down, seed });
  else throw new RangeError('a UDP port range must map each port to the same port number');
  console.log(`relaying ${values.udp ? 'udp' : 'tcp'} ${l.host}:${relay.port}${l.max > l.min ? `-${l.max}` : ''} → ${values.target}; impairment ${JSON.stringify(imp)} (${values.direction})`);
  const print = () => console.log(JSON.stringify(relay.stats));
  const tick = setInterval(print, 5000);
  const stop = async () => {
    clearInterval(tick);
    print();
    await relay.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  if (values.seconds !== undefined) setTimeout(() => void stop(), Number(values.seconds) * 1000);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
