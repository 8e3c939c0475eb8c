/**
 * The whole `strom edge` (buildEdge, as `strom edge` runs it) for end-to-end tests: started on
 * port 0 with its RTMP play listener on port 0, in front of the given origins, with the cluster
 * secret the test origin uses; plus its Prometheus text read over HTTP, and a TCP gate a test puts
 * between an edge and its origin to cut the origin off and let it back in.
 */
import net from 'node:net';
import { testConfig, type RawSettings } from '../../src/config.js';
import { buildEdge, type StromEdge } from '../../src/edge/edge-node.js';

/** `cluster.secret` of the origins and edges of the edge end-to-end tests. */
export const EDGE_SECRET = 'edge-e2e-secret-0123456789abcdef';

/** Settings of an origin behind a Strom edge. */
export const EDGE_ORIGIN_SETTINGS: RawSettings = {
  'cluster.secret': EDGE_SECRET,
  // Behind an edge every request comes from the edge's address: no per-IP media limit.
  'rateLimit.media.perMinute': 0,
  'delivery.earlyHints': false,
};

/** A listening edge. */
export interface EdgeNode {
  edge: StromEdge;
  url: string;
  rtmpPort: number | null;
  /** The edge's /metrics text. */
  metrics(): Promise<string>;
  /** One sample of the edge's /metrics, written as in the exposition (`name{label="v"}`); NaN when absent. */
  sample(series: string): Promise<number>;
  close(): Promise<void>;
}

/** Build and listen an edge pulling from `origins` (settings over the test defaults). */
export async function startEdgeNode(origins: string[], settings: RawSettings = {}): Promise<EdgeNode> {
  const config = testConfig({
    'edge.origins': origins.join(','),
    'cluster.secret': EDGE_SECRET,
    'edge.healthIntervalMs': 200,
    'edge.upstreamTimeoutMs': 5_000,
    'rtmp.port': 0,
    ...settings,
  });
  const edge = await buildEdge(config);
  let listening: Awaited<ReturnType<StromEdge['listen']>>;
  try {
    listening = await edge.listen();
  } catch (err) {
    await edge.close().catch(() => undefined);
    throw err;
  }
  const { url, rtmpPort } = listening;
  let closed = false;
  const metrics = async () => (await fetch(`${url}/metrics`)).text();
  return {
    edge, url, rtmpPort, metrics,
    sample: async (series) => metricSample(await metrics(), series),
    async close() {
      if (closed) return;
      closed = true;
      await edge.close();
    },
  };
}

/** The value of `series` (`name` or `name{labels}` exactly as exposed) in Prometheus text, or NaN. */
export function metricSample(text: string, series: string): number {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? NaN : Number(line.slice(series.length + 1));
}

/** A TCP pass-through to 127.0.0.1:`port` that can refuse new connections and drop open ones. */
export interface Gate {
  port: number;
  /** Refuse (reset) new connections and drop the open ones; `open()` lets connections through again. */
  shut(): void;
  open(): void;
  close(): Promise<void>;
}

/** Start a gate in front of `port`; it starts open unless `shut` is true. */
export async function startGate(port: number, shut = false): Promise<Gate> {
  const sockets = new Set<net.Socket>();
  let refusing = shut;
  const server = net.createServer((client) => {
    if (refusing) return void client.resetAndDestroy();
    const up = net.connect(port, '127.0.0.1');
    const end = () => {
      for (const s of [client, up]) {
        s.destroy();
        sockets.delete(s);
      }
    };
    for (const s of [client, up]) {
      sockets.add(s);
      s.on('error', end);
      s.on('close', end);
    }
    client.pipe(up).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    shut() {
      refusing = true;
      for (const s of sockets) s.destroy();
    },
    open() {
      refusing = false;
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
