/**
 * Live from any node with real clients: ffmpeg publishes H.264 + AAC over RTMP to node 1 of a
 * three-node cluster (one private Redis, separate data directories, the same stream keys);
 * ffprobe reads HTTP-FLV from node 3 and RTMP play from node 2; ffmpeg records 3 s of HTTP-FLV
 * from node 2 with continuous timestamps starting on a keyframe; node 1 serves each other node
 * with one relay connection.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ffmpegPublish, run, waitUntil } from '../helpers/live-fixtures.js';
import { startRedis } from '../helpers/redis.js';
import { startNode } from '../helpers/cluster-nodes.js';

/** Codec names and sizes ffprobe sees at `url`. */
async function probe(url: string): Promise<Array<{ codec_name: string; width?: number; sample_rate?: string }>> {
  const { stdout, code, stderr } = await run('ffprobe', ['-v', 'error', '-show_entries', 'stream=codec_name,width,sample_rate', '-of', 'json', url], 20_000).done;
  assert.equal(code, 0, stderr);
  return (JSON.parse(stdout) as { streams: Array<{ codec_name: string }> }).streams;
}

test('ffmpeg publishes to node 1; ffprobe and ffmpeg read it from nodes 2 and 3', { timeout: 120_000 }, async (t) => {
  const redis = await startRedis();
  const settings = { 'cluster.relayIdleMs': 2000 };
  const n1 = await startNode(t, redis.url, 'node-1', settings);
  const n2 = await startNode(t, redis.url, 'node-2', settings);
  const n3 = await startNode(t, redis.url, 'node-3', settings);
  const tmp = mkdtempSync(path.join(tmpdir(), 'strom-cluster-out-'));
  const pub = ffmpegPublish(n1.rtmpPort, 'secret', 30);
  t.after(() => {
    pub.child.kill('SIGKILL');
    rmSync(tmp, { recursive: true, force: true });
  });
  await waitUntil(() => n1.strom.live.status('cam1').video !== null, 'ffmpeg publishes to node 1', 15_000);
  await sleep(1000); // a GOP in the cache

  const flv = await probe(`${n3.url}/live/cam1.flv`);
  assert.deepEqual(flv.map((s) => s.codec_name).sort(), ['aac', 'h264']);
  assert.equal(flv.find((s) => s.codec_name === 'h264')!.width, 320);
  assert.equal(flv.find((s) => s.codec_name === 'aac')!.sample_rate, '44100');
  const rtmp = await probe(`rtmp://127.0.0.1:${n2.rtmpPort}/live/cam1`);
  assert.deepEqual(rtmp.map((s) => s.codec_name).sort(), ['aac', 'h264']);

  const out = path.join(tmp, 'node2.flv');
  const rec = run('ffmpeg', ['-v', 'error', '-i', `${n2.url}/live/cam1.flv`, '-t', '3', '-c', 'copy', '-y', out], 30_000);
  await waitUntil(() => n2.strom.live.status('cam1').viewers['http-flv'] === 1, 'ffmpeg reads from node 2');
  assert.ok(n1.strom.live.status('cam1').viewers.relay >= 1 && n1.strom.live.status('cam1').viewers.relay <= 2, 'at most one relay per other node');
  const st2 = n2.strom.live.status('cam1');
  assert.equal(st2.originNode, 'node-1');
  assert.match(st2.video!.codec, /^avc1\./);
  assert.equal(st2.video!.width, 320);
  const res = await rec.done;
  assert.equal(res.code, 0, res.stderr);
  const { stdout } = await run('ffprobe', ['-v', 'error', '-show_entries', 'packet=codec_type,dts_time,flags', '-of', 'json', out]).done;
  const pkts = (JSON.parse(stdout) as { packets: Array<{ codec_type: string; dts_time: string; flags: string }> }).packets;
  assert.equal(pkts.find((p) => p.codec_type === 'video')!.flags[0], 'K', 'starts with a keyframe');
  for (const type of ['video', 'audio']) {
    const dts = pkts.filter((p) => p.codec_type === type).map((p) => Number(p.dts_time));
    assert.ok(dts.length > 10, `${type}: ${dts.length} packets`);
    for (let i = 1; i < dts.length; i++) assert.ok(dts[i]! >= dts[i - 1]! && dts[i]! - dts[i - 1]! <= 0.05, `${type} continuous at ${i}: ${dts[i - 1]} → ${dts[i]}`);
  }
});
