/**
 * The media storage contract (src/storage/blob-storage.ts) on both implementations, through
 * `forEachStorage`: stat, whole and ranged reads (streamed with backpressure), small fetches,
 * writes of buffers, streams and files (multipart on s3), download, copy, list and delete by
 * prefix, and atomic publication — a reader that sees the entry manifest sees every object, a
 * failed publish leaves nothing, a second publish to the same prefix is refused; abandoned staging
 * folders are swept once old enough. s3 also answers
 * STORAGE_UNAVAILABLE (503, naming endpoint and bucket) when the bucket cannot be reached.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { S3Client } from '@aws-sdk/client-s3';
import { testConfig } from '../../src/config.js';
import { isStromError } from '../../src/errors.js';
import { S3Storage } from '../../src/storage/s3-storage.js';
import { sweepStaging } from '../../src/storage/staging-sweep.js';
import { forEachStorage } from '../helpers/storage.js';

const MB = 1024 * 1024;

async function drain(r: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A finished asset directory: media, media playlists, entry manifests. */
function assetDir(root: string, name: string): { dir: string; files: Record<string, Buffer> } {
  const dir = path.join(root, name);
  const files: Record<string, Buffer> = {
    'v360/init.mp4': randomBytes(700),
    'v360/seg_00000.m4s': randomBytes(40_000),
    'v360/seg_00001.m4s': randomBytes(40_000),
    'a128/init.mp4': randomBytes(600),
    'a128/seg_00000.m4s': randomBytes(9_000),
    'v360/index.m3u8': Buffer.from('#EXTM3U\n#EXT-X-ENDLIST\n'),
    'a128/index.m3u8': Buffer.from('#EXTM3U\n#EXT-X-ENDLIST\n'),
    'poster.jpg': randomBytes(3000),
    'master.m3u8': Buffer.from('#EXTM3U\nv360/index.m3u8\n'),
    'manifest.mpd': Buffer.from('<MPD/>\n'),
  };
  for (const [rel, body] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), body);
  }
  return { dir, files };
}

forEachStorage((t) => {
  const big = randomBytes(11 * MB + 12345);

  test('stat, readAll and fetchSmall of a missing key', async () => {
    const { storage } = t();
    assert.equal(await storage.stat('assets/none/x.m4s'), null);
    assert.equal(await storage.fetchSmall('assets/none/x.m4s', 1000), null);
    await assert.rejects(storage.readAll('assets/none/x.m4s'), (err) => isStromError(err, 'OBJECT_NOT_FOUND'));
    await assert.rejects(storage.read('assets/none/x.m4s', { start: 0, end: 3 }), (err) => isStromError(err, 'OBJECT_NOT_FOUND'));
  });

  test('write a buffer; stat gives size, a quoted ETag and mtime; reads return the bytes', async () => {
    const { storage } = t();
    const body = randomBytes(100_000);
    const before = Date.now() - 5000;
    await storage.write('assets/a/seg.m4s', body);
    const st = await storage.stat('assets/a/seg.m4s');
    assert.ok(st);
    assert.equal(st.size, body.length);
    assert.match(st.etag, /^"[^"]+"$/);
    assert.ok(st.mtimeMs >= before && st.mtimeMs <= Date.now() + 5000, `mtime ${st.mtimeMs}`);
    assert.deepEqual(await storage.readAll('assets/a/seg.m4s'), body);
    assert.deepEqual(await drain(await storage.read('assets/a/seg.m4s')), body);
    assert.deepEqual(await drain(await storage.read('assets/a/seg.m4s', { start: 10, end: 20 })), body.subarray(10, 21));
    assert.deepEqual(await drain(await storage.read('assets/a/seg.m4s', { start: 99_990, end: 99_999 })), body.subarray(99_990));
    // Same object, same validator (every node must send the same ETag).
    assert.equal((await storage.stat('assets/a/seg.m4s'))!.etag, st.etag);
  });

  test('fetchSmall: body when it fits, stat only when it does not, empty objects too', async () => {
    const { storage } = t();
    const body = randomBytes(5000);
    await storage.write('assets/f/small.m4s', body);
    const small = await storage.fetchSmall('assets/f/small.m4s', 5000);
    assert.deepEqual(small?.body, body);
    assert.equal(small?.stat.size, 5000);
    assert.equal(small?.stat.etag, (await storage.stat('assets/f/small.m4s'))!.etag);
    const large = await storage.fetchSmall('assets/f/small.m4s', 4999);
    assert.equal(large?.body, null);
    assert.equal(large?.stat.size, 5000);
    await storage.write('assets/f/empty.m4s', Buffer.alloc(0));
    const empty = await storage.fetchSmall('assets/f/empty.m4s', 100);
    assert.equal(empty?.stat.size, 0);
    assert.deepEqual(empty?.body, Buffer.alloc(0));
  });

  test('write a stream and a file larger than a part (multipart on s3); download gives the bytes back', async () => {
    const { storage, scratch } = t();
    await storage.write('sources/v1/source', Readable.from([big.subarray(0, 4 * MB), big.subarray(4 * MB)]));
    assert.equal((await storage.stat('sources/v1/source'))!.size, big.length);
    const local = path.join(scratch, 'big.bin');
    writeFileSync(local, big);
    await storage.writeFile('sources/v2/source', local);
    const back = path.join(scratch, 'back.bin');
    await storage.download('sources/v2/source', back);
    assert.ok(readFileSync(back).equals(big));
    assert.ok((await storage.readAll('sources/v1/source')).equals(big));
  });

  test('a ranged read is a stream with backpressure: an unread body is not buffered whole', async () => {
    const { storage } = t();
    const r = await storage.read('sources/v1/source', { start: 0, end: big.length - 1 });
    await new Promise((res) => setTimeout(res, 300));
    assert.ok(r.readableLength < 2 * MB, `${r.readableLength} bytes buffered of ${big.length}`);
    const head = await new Promise<Buffer>((resolve) => r.once('data', (c: Buffer) => resolve(c)));
    assert.deepEqual(head, big.subarray(0, head.length));
    r.destroy();
  });

  test('copy, list by prefix, delete and deletePrefix', async () => {
    const { storage } = t();
    await storage.write('assets/l/a.m4s', 'a');
    await storage.write('assets/l/sub/b.m4s', 'bb');
    await storage.write('assets/l2/c.m4s', 'ccc');
    await storage.copy('assets/l/a.m4s', 'assets/l/copy.m4s');
    assert.equal((await storage.readAll('assets/l/copy.m4s')).toString(), 'a');
    assert.deepEqual((await storage.list('assets/l/')).map((e) => [e.key, e.size]), [['assets/l/a.m4s', 1], ['assets/l/copy.m4s', 1], ['assets/l/sub/b.m4s', 2]]);
    await storage.delete('assets/l/copy.m4s');
    await storage.delete('assets/l/copy.m4s'); // absent is fine
    assert.equal(await storage.deletePrefix('assets/l/'), 2);
    assert.deepEqual(await storage.list('assets/l/'), []);
    assert.equal((await storage.list('assets/l2/')).length, 1, 'a sibling prefix is untouched');
    await assert.rejects(storage.copy('assets/none/a', 'assets/none/b'), (err) => isStromError(err, 'OBJECT_NOT_FOUND'));
  });

  test('publish makes a directory visible under its prefix; a second publish there is refused', async () => {
    const { storage, scratch } = t();
    const { dir, files } = assetDir(scratch, 'pub1');
    await storage.publish(dir, 'assets/p1/');
    const listed = await storage.list('assets/p1/');
    assert.deepEqual(listed.map((e) => e.key).sort(), Object.keys(files).map((k) => `assets/p1/${k}`).sort());
    for (const [rel, body] of Object.entries(files)) assert.deepEqual(await storage.readAll(`assets/p1/${rel}`), body, rel);
    assert.deepEqual(await storage.list('staging/'), [], 'no staging objects left');
    const again = assetDir(scratch, 'pub1b');
    await assert.rejects(storage.publish(again.dir, 'assets/p1/'), (err) => isStromError(err, 'STORAGE_EXISTS') && err.statusCode === 409);
  });

  test('publish is atomic for readers: whoever sees master.m3u8 or manifest.mpd sees every object', async () => {
    const { storage, scratch } = t();
    const { dir, files } = assetDir(scratch, 'pub2');
    let stop = false;
    let sawManifest = 0;
    const reader = (async () => {
      while (!stop) {
        for (const entry of ['master.m3u8', 'manifest.mpd']) {
          if ((await storage.stat(`assets/p2/${entry}`)) === null) continue;
          sawManifest++;
          for (const rel of Object.keys(files)) assert.ok(await storage.stat(`assets/p2/${rel}`), `${entry} visible before ${rel}`);
        }
      }
    })();
    await storage.publish(dir, 'assets/p2/');
    await new Promise((res) => setTimeout(res, 50));
    stop = true;
    await reader;
    assert.ok(sawManifest > 0);
  });

  test('a publish that fails leaves nothing under the prefix nor in staging', async () => {
    const { storage, scratch, kind } = t();
    const { dir } = assetDir(scratch, 'pub3');
    if (kind === 's3') {
      // Fail the copy of the entry manifest: media and media playlists are already in place then.
      const client = (storage as S3Storage).client as S3Client;
      client.middlewareStack.add((next, context) => async (args) => {
        const input = args.input as { Key?: string };
        if (context.commandName === 'CopyObjectCommand' && input.Key?.endsWith('assets/p3/master.m3u8')) throw Object.assign(new Error('injected failure'), { name: 'InternalError', $metadata: { httpStatusCode: 500 } });
        return next(args);
      }, { step: 'initialize', name: 'injectCopyFailure' });
      try {
        await assert.rejects(storage.publish(dir, 'assets/p3/'), (err) => isStromError(err, 'STORAGE_UNAVAILABLE') && /injected failure/.test(err.message));
      } finally {
        client.middlewareStack.remove('injectCopyFailure');
      }
    } else {
      await assert.rejects(storage.publish(path.join(scratch, 'no-such-dir'), 'assets/p3/'), (err) => isStromError(err, 'STORAGE_UNAVAILABLE'));
    }
    assert.deepEqual(await storage.list('assets/p3/'), []);
    assert.deepEqual(await storage.list('staging/'), []);
  });

  test('sweepStaging deletes staging folders a crashed publication left, once old enough', async () => {
    const { storage } = t();
    await storage.write('staging/assets_x-1/v360/seg.m4s', 'a');
    await storage.write('staging/assets_x-1/master.m3u8', '#EXTM3U\n');
    await storage.write('staging/assets_y-2/seg.m4s', 'b');
    assert.deepEqual(await sweepStaging(storage), [], 'a fresh staging folder may be a publication in progress');
    assert.deepEqual((await sweepStaging(storage, 1000, Date.now() + 60_000)).sort(), ['staging/assets_x-1/', 'staging/assets_y-2/']);
    assert.deepEqual(await storage.list('staging/'), []);
  });

  test('operations are counted by the storage metrics', async () => {
    const { storage } = t();
    const errorsBefore = storage.metrics.errors;
    await storage.stat('assets/none/y.m4s');
    assert.equal(storage.metrics.errors, errorsBefore, '"not found" is not an error');
  });
}, { 'storage.s3.partBytes': '5MB' });

test('s3 storage that cannot reach its bucket answers STORAGE_UNAVAILABLE naming endpoint and bucket', async () => {
  const storage = new S3Storage(testConfig({ 'storage.kind': 's3', 'storage.s3.endpoint': 'http://127.0.0.1:1', 'storage.s3.bucket': 'gone', 'storage.s3.forcePathStyle': true, 'storage.s3.accessKeyId': 'k', 'storage.s3.secretAccessKey': 'secret-value', 'storage.s3.requestTimeoutMs': 1000 }).storage.s3);
  try {
    await assert.rejects(storage.stat('assets/x/master.m3u8'), (err) => {
      assert.ok(isStromError(err, 'STORAGE_UNAVAILABLE'));
      assert.equal(err.statusCode, 503);
      assert.match(err.message, /s3:\/\/gone\/ at http:\/\/127\.0\.0\.1:1/);
      assert.doesNotMatch(err.message, /secret-value/);
      return true;
    });
  } finally {
    storage.close();
  }
});
