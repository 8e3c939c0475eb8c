/**
 * Captions on object storage (`storage.kind = s3`, s3rver): the caption files and the rewritten
 * master and MPD are objects in the bucket, served by delivery from there; replacing a track
 * deletes the old objects, deleting the last track leaves the manifests as packaged.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startApi } from '../helpers/api-server.js';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { startS3 } from '../helpers/s3.js';

const s3 = await startS3();
const ID = 'caps3';
const VTT = 'WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nHello Strom\n';
const MPD = '<?xml version="1.0" encoding="UTF-8"?>\n<MPD>\n<Period id="0" start="PT0S">\n  <AdaptationSet id="0" contentType="video"></AdaptationSet>\n</Period>\n</MPD>\n';

test('caption files and manifests live in the bucket; replace and delete clean up after themselves', async (t) => {
  const local = mkdtempSync(path.join(tmpdir(), 'strom-cap-s3-'));
  t.after(() => rmSync(local, { recursive: true, force: true }));
  const s = await startApi(t, { ...s3.settings('caps/'), 'delivery.metaTtlMs': 600_000 });
  const storage = s.strom.delivery.storage;
  assert.equal(storage.kind, 's3');
  const dir = await makeFixtureAsset({ dataDir: local, id: ID, seconds: 3, extras: false });
  writeFileSync(path.join(dir, 'manifest.mpd'), MPD);
  await storage.publish(dir, `assets/${ID}/`);
  await s.strom.control.store.videos.create({ id: ID, status: 'ready' });
  const token = await s.token(['videos:write']);
  const post = (body: string) => fetch(`${s.url}/api/v1/videos/${ID}/captions?language=en`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/vtt' }, body });
  const text = async (p: string) => (await s.call('GET', p)).text();
  const packaged = await text(`/v/${ID}/master.m3u8`);

  let r = await post(VTT);
  assert.equal(r.status, 201);
  const first = await r.json() as { playback: { hls: string; vtt: string } };
  assert.match(await text(`/v/${ID}/master.m3u8`), /TYPE=SUBTITLES,GROUP-ID="subs",LANGUAGE="en",NAME="English",DEFAULT=NO/);
  assert.match(await text(`/v/${ID}/manifest.mpd`), /contentType="text" mimeType="text\/vtt" lang="en"/);
  assert.match(await text(first.playback.hls.replace('index.m3u8', 'seg_00001.vtt')), /X-TIMESTAMP-MAP=MPEGTS:\d+,LOCAL:00:00:00.000\n\n00:00:00.000 --> 00:00:01.000\nHello Strom/);
  const objects = async () => (await storage.list(`assets/${ID}/captions/`)).map((e) => e.key);
  const firstKeys = await objects();
  assert.ok(firstKeys.length >= 5, firstKeys.join(' ')); // playlist + 3 segments + the whole file

  r = await post(VTT.replace('Hello', 'Hi'));
  assert.equal(r.status, 200);
  const second = await r.json() as { playback: { vtt: string } };
  assert.equal(await text(second.playback.vtt), VTT.replace('Hello', 'Hi'));
  assert.ok((await objects()).every((k) => !firstKeys.includes(k)), 'the replaced track\'s objects are gone');

  assert.equal((await s.call('DELETE', `/api/v1/videos/${ID}/captions/en`, { token })).status, 204);
  assert.deepEqual(await objects(), []);
  assert.equal(await text(`/v/${ID}/master.m3u8`), packaged);
  assert.equal(await text(`/v/${ID}/manifest.mpd`), MPD);
});
