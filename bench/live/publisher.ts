/**
 * The bench publisher: reads an FLV file and publishes its tags over RTMP in real time with
 * Strom's own minimal client, recording the wall time each video frame was handed to the socket.
 */
import { readFileSync } from 'node:fs';
import { FlvDemuxer, type FlvTag } from '../../src/live/formats/flv/flv-demuxer.js';
import { RtmpClient } from '../../src/live/rtmp/rtmp-client.js';
import { encodeAmf0 } from '../../src/live/rtmp/amf0.js';
import { wallMs } from './flv-viewer-scan.js';

/** Tags of an FLV file. */
export function readFlv(file: string): FlvTag[] {
  return new FlvDemuxer(64 * 1024 * 1024).push(readFileSync(file));
}

/** Publish `tags` to rtmp://host:port/live/key in real time; returns dts → send wall time of video frames. */
export async function publishFlv(tags: readonly FlvTag[], host: string, port: number, key: string, onStart?: () => void): Promise<Map<number, number>> {
  const c = await RtmpClient.connect(host, port, 'live');
  const code = await c.publish(key);
  if (code !== 'NetStream.Publish.Start') throw new Error(`publish refused: ${code}`);
  const sent = new Map<number, number>();
  const t0 = wallMs();
  onStart?.();
  for (const tag of tags) {
    const due = t0 + tag.timestamp;
    const wait = due - wallMs();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    if (tag.type === 18) {
      c.send(18, tag.timestamp, Buffer.concat([encodeAmf0('@setDataFrame'), tag.body]));
      continue;
    }
    c.send(tag.type, tag.timestamp, tag.body);
    if (tag.type === 9 && tag.body[1] === 1) sent.set(tag.timestamp, wallMs());
  }
  await new Promise((r) => setTimeout(r, 500));
  c.destroy();
  return sent;
}
