/**
 * Viewer process of bench/cluster/cross-node-latency.ts and bench/srt/latency.ts (started by
 * `pairViewers` in bench/live/bench-process.ts): `node --import tsx pair-viewers.ts <urlA> <urlB>
 * <count>` opens `count` HTTP-FLV viewers on each URL (in concurrent batches of 25, both URLs
 * interleaved) in this one process, so a frame's arrival on A and on B is timed by the same clock
 * and event loop; prints `ready <wallMs>` on stderr, then on SIGTERM one JSON line
 * `{"a": ViewerStats[], "b": ViewerStats[]}` (every frame sampled).
 */
import { scanViewer, wallMs, type ViewerStats } from '../live/flv-viewer-scan.js';

const [urlA, urlB, countArg] = process.argv.slice(2);
const count = Number(countArg);
const out: { a: ViewerStats[]; b: ViewerStats[] } = { a: [], b: [] };
const sockets: Array<{ destroy(): void }> = [];
for (let i = 0; i < count; i += 25) {
  const batch: Array<Promise<void>> = [];
  for (let j = i; j < Math.min(count, i + 25); j++) {
    for (const [key, url] of [['a', urlA!], ['b', urlB!]] as const) {
      const u = new URL(url);
      const v = scanViewer(u.hostname, Number(u.port), u.pathname, true);
      out[key].push(v.stats);
      sockets.push(v.socket);
      batch.push(v.connected);
    }
  }
  await Promise.all(batch);
  await new Promise((r) => setTimeout(r, 5));
}
process.stderr.write(`ready ${wallMs()}\n`);
setInterval(() => {}, 1 << 30); // stay alive after the streams end, until SIGTERM
process.on('SIGTERM', () => {
  process.stdout.write(JSON.stringify(out) + '\n', () => {
    for (const s of sockets) s.destroy();
    process.exit(0);
  });
});
