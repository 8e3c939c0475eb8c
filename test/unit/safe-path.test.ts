/** `parseAssetPath`: the strict alphabet of delivery paths (docs/STORAGE.md "Paths are strict"). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAssetPath } from '../../src/http/delivery/safe-path.js';
import { isStromError } from '../../src/errors.js';

const ok = (p: string) => parseAssetPath(p, '/v/');
const refused = (p: string) =>
  assert.throws(() => ok(p), (err: unknown) => isStromError(err, 'BAD_PATH') && err.statusCode === 400, JSON.stringify(p));

test('valid paths split into asset id and relative path', () => {
  assert.deepEqual(ok('/v/abc/master.m3u8'), { assetId: 'abc', rel: 'master.m3u8' });
  assert.deepEqual(ok('/v/A_b-9/v360/seg_00001.m4s'), { assetId: 'A_b-9', rel: 'v360/seg_00001.m4s' });
  assert.deepEqual(ok(`/v/${'x'.repeat(64)}/a.mp4`), { assetId: 'x'.repeat(64), rel: 'a.mp4' });
  assert.deepEqual(ok('/v/id/a/b/c/d/e/f.m4s'), { assetId: 'id', rel: 'a/b/c/d/e/f.m4s' });
});

test('traversal and dot segments are refused', () => {
  for (const p of ['/v/id/../secret.txt', '/v/../etc/passwd', '/v/id/./master.m3u8', '/v/id/v360/../../x.mp4', '/v/id/..', '/v/..']) refused(p);
});

test('percent-escapes are refused whatever they encode', () => {
  for (const p of ['/v/id/%2e%2e/x.mp4', '/v/id/a%2fb.mp4', '/v/id/a%5cb.mp4', '/v/id/%00.mp4', '/v/id/%252e%252e/x.mp4', '/v/id/master%2Em3u8', '/v/%69d/master.m3u8']) refused(p);
});

test('backslashes, NUL bytes and control characters are refused', () => {
  for (const p of ['/v/id/..\\..\\x.mp4', '/v/id\\x/a.mp4', '/v/id/a\0.mp4', '/v/id/a\n.mp4', '/v/id/a b.mp4']) refused(p);
});

test('dot files and empty segments are refused', () => {
  for (const p of ['/v/id/.fixture', '/v/id/v360/.hidden.m4s', '/v/id//master.m3u8', '/v/id/', '/v/id', '/v//master.m3u8', '/v/id/v360/']) refused(p);
});

test('asset ids outside [A-Za-z0-9_-]{1,64} are refused', () => {
  for (const p of ['/v/a.b/master.m3u8', `/v/${'x'.repeat(65)}/a.mp4`, '/v/a:b/x.mp4', '/v/a~b/x.mp4', '/v/é/x.mp4', '/v//x.mp4']) refused(p);
});

test('unicode look-alike dots and non-ASCII characters are refused', () => {
  for (const p of ['/v/id/\u2024\u2024/x.mp4', '/v/id/\uff0e\uff0e/x.mp4', '/v/id/ma\u0307ster.m3u8', '/v/id/\u00e9.mp4']) refused(p);
});

test('over-long and over-deep paths are refused', () => {
  refused(`/v/id/${'a'.repeat(129)}.mp4`);
  refused(`/v/id/${Array.from({ length: 60 }, () => 'abcdefgh').join('/')}.mp4`);
  refused('/v/id/a/b/c/d/e/f/g.m4s');
});
