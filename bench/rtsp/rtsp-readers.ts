/**
 * Reader process for bench/rtsp/readers.ts: `node --import tsx rtsp-readers.ts <rtsp url> <count>`.
 * Opens `count` RTSP readers over TCP (DESCRIBE/SETUP interleaved/PLAY with Strom's own RTSP
 * client, src/live/rtsp/client-session.ts) in batches of 25, counts the interleaved bytes each
 * receives, prints "ready" on stderr once all play, and on SIGTERM one JSON line with the bytes
 * per reader.
 */
import pino from 'pino';
import { openPlaying, type PlayingSession } from '../../src/live/rtsp/client-session.js';

const [url, countArg] = process.argv.slice(2);
const count = Number(countArg);
const log = pino({ level: 'silent' });
const sessions: PlayingSession[] = [];
const bytes: number[] = [];
for (let i = 0; i < count; i += 25) {
  const batch = [];
  for (let j = i; j < Math.min(count, i + 25); j++) {
    batch.push(openPlaying(new URL(url!), { display: url!, transport: 'tcp', deadline: Date.now() + 20_000, timeoutMs: 20_000, maxBodyBytes: 64 * 1024, maxFrameBytes: 8 << 20, log }).then((s) => {
      bytes[j] = 0;
      s.client.onData = (_channel, data) => {
        bytes[j]! += data.length;
      };
      sessions.push(s);
    }));
  }
  await Promise.all(batch);
}
process.stderr.write('ready\n');
setInterval(() => {}, 1 << 30);
process.on('SIGTERM', () => {
  process.stdout.write(JSON.stringify(bytes) + '\n', () => process.exit(0));
});
