/**
 * node-media-server (npm, 2.x) as a foreign RTMP receiver, in a child process of its own (it
 * installs process-wide signal and exception handlers). It prints one JSON line per publish event
 * on stdout; its HTTP-FLV output (`/live/<name>.flv`) serves what it received.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { freePort } from './free-port.js';
import { terminate, waitPort } from './child-process.js';

/** A running node-media-server. */
export interface NmsReceiver {
  child: ChildProcess;
  rtmpPort: number;
  httpPort: number;
  /** Publish events seen so far: `{ event: 'postPublish' | 'donePublish', path }`. */
  events: Array<{ event: string; path: string }>;
  stop(): Promise<void>;
}

const SCRIPT = `
const NodeMediaServer = require(process.env.NMS_PATH);
const nms = new NodeMediaServer({
  logType: 0,
  rtmp: { port: Number(process.env.NMS_RTMP), chunk_size: 60000, gop_cache: true, ping: 30, ping_timeout: 60 },
  http: { port: Number(process.env.NMS_HTTP), allow_origin: '*', mediaroot: process.env.NMS_ROOT },
});
for (const ev of ['postPublish', 'donePublish']) nms.on(ev, (id, path) => process.stdout.write(JSON.stringify({ event: ev, path }) + '\\n'));
nms.run();
`;

/** Start node-media-server on free ports (`mediaRoot`: a scratch directory it may write into). */
export async function startNms(mediaRoot: string): Promise<NmsReceiver> {
  const [rtmpPort, httpPort] = [await freePort(), await freePort()];
  const nmsPath = createRequire(import.meta.url).resolve('node-media-server');
  const child = spawn(process.execPath, ['-e', SCRIPT], { env: { ...process.env, NMS_PATH: nmsPath, NMS_RTMP: String(rtmpPort), NMS_HTTP: String(httpPort), NMS_ROOT: mediaRoot }, stdio: ['ignore', 'pipe', 'pipe'] });
  const events: NmsReceiver['events'] = [];
  let stderr = '';
  let buf = '';
  child.stdout!.on('data', (d: Buffer) => {
    buf += d.toString();
    let i: number;
    while ((i = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      try {
        events.push(JSON.parse(line) as { event: string; path: string });
      } catch {
        /* a log line */
      }
    }
  });
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  await waitPort(rtmpPort, child, 10_000, () => stderr);
  await waitPort(httpPort, child, 10_000, () => stderr);
  return { child, rtmpPort, httpPort, events, stop: () => terminate(child) };
}
