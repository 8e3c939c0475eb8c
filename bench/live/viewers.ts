/**
 * Viewer process for bench/live: `node --import tsx viewers.ts <url> <count> <sampleCount>`.
 * Opens `count` HTTP-FLV viewers (ramped), keeps them reading until SIGTERM, then prints one JSON
 * line with every viewer's stats (samples for the first `sampleCount`).
 */
import { scanViewer, wallMs, type ViewerStats } from './flv-viewer-scan.js';

const [url, countArg, sampleArg] = process.argv.slice(2);
const u = new URL(url!);
const count = Number(countArg);
const sampleCount = Number(sampleArg);
const all: ViewerStats[] = [];
const sockets: Array<{ destroy(): void }> = [];
// Independent viewers: connect in concurrent batches of 50 (a sequential ramp would turn every
// dropped SYN into a 1 s stall of all later viewers).
for (let i = 0; i < count; i += 50) {
  const batch = [];
  for (let j = i; j < Math.min(count, i + 50); j++) {
    const v = scanViewer(u.hostname, Number(u.port), u.pathname, j < sampleCount);
    all.push(v.stats);
    sockets.push(v.socket);
    batch.push(v.connected);
  }
  await Promise.all(batch);
  await new Promise((r) => setTimeout(r, 5));
}
process.stderr.write(`ready ${wallMs()}\n`);
setInterval(() => {}, 1 << 30); // stay alive after the server ends the streams, until SIGTERM
process.on('SIGTERM', () => {
  process.stdout.write(JSON.stringify(all) + '\n', () => {
    for (const s of sockets) s.destroy();
    process.exit(0);
  });
});
