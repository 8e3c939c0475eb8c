/**
 * Content protection units: key derivation, HLS AES-128 segment encryption and its playlist
 * signalling (RFC 8216 §4.3.2.4–5), and ClearKey license request parsing (W3C EME §9.1.4).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ContentKeys } from '../../src/vod/protection/content-keys.js';
import { decryptSegment, encryptSegment, keyIndexOf, newIv } from '../../src/vod/protection/aes-128.js';
import { mediaProtector } from '../../src/vod/protection/media-protector.js';
import { mediaPlaylist } from '../../src/vod/hls-manifests.js';
import { parseLicenseRequest } from '../../src/http/delivery/protection-routes.js';
import { isStromError } from '../../src/errors.js';

const keys = new ContentKeys(Buffer.alloc(32, 7));

test('keys are derived: same inputs → same key on any node; differ per video, index and purpose', () => {
  assert.deepEqual(new ContentKeys(Buffer.alloc(32, 7)).aesKey('v_a', 3), keys.aesKey('v_a', 3));
  assert.equal(keys.aesKey('v_a', 0).length, 16);
  assert.notDeepEqual(keys.aesKey('v_a', 0), keys.aesKey('v_a', 1));
  assert.notDeepEqual(keys.aesKey('v_a', 0), keys.aesKey('v_b', 0));
  assert.notDeepEqual(new ContentKeys(Buffer.alloc(32, 8)).aesKey('v_a', 0), keys.aesKey('v_a', 0));
  const c = keys.cenc('v_a');
  assert.equal(new Set([c.key.toString('hex'), c.kid.toString('hex'), c.iv.toString('hex'), keys.aesKey('v_a', 0).toString('hex')]).size, 4);
  assert.throws(() => new ContentKeys(Buffer.alloc(8)), RangeError);
});

test('AES-128: whole segment CBC + PKCS#7, decrypts back; ciphertext is padded and differs', () => {
  const data = randomBytes(10_000);
  const key = keys.aesKey('v_a', 0);
  const iv = newIv();
  const enc = encryptSegment(data, key, iv);
  assert.equal(enc.length, Math.ceil((data.length + 1) / 16) * 16, 'PKCS#7 always pads');
  assert.notDeepEqual(enc.subarray(0, 64), data.subarray(0, 64));
  assert.deepEqual(decryptSegment(enc, key, iv), data);
  assert.throws(() => decryptSegment(enc, keys.aesKey('v_a', 1), iv), 'the wrong key fails the padding check');
});

test('AES-128 rotation: a new key every N segments, 0 = one key', () => {
  assert.deepEqual([0, 1, 2, 3, 4].map((s) => keyIndexOf(s, 2)), [0, 0, 1, 1, 2]);
  assert.deepEqual([0, 9, 1000].map((s) => keyIndexOf(s, 0)), [0, 0, 0]);
  const p = mediaProtector('aes-128', 'v_a', keys, 2)!.track(Buffer.from('init'), 'video');
  const s0 = p.segment(Buffer.from('x'.repeat(100)), 0);
  const s3 = p.segment(Buffer.from('x'.repeat(100)), 3);
  assert.equal(s0.key?.index, 0);
  assert.equal(s3.key?.index, 1);
  assert.notEqual(s0.key?.iv, p.segment(Buffer.from('x'), 0).key?.iv, 'a fresh IV per segment');
  assert.deepEqual(decryptSegment(s3.data, keys.aesKey('v_a', 1), Buffer.from(s3.key!.iv, 'hex')), Buffer.from('x'.repeat(100)));
  assert.deepEqual(p.init, Buffer.from('init'), 'the init segment stays clear');
  assert.equal(mediaProtector('none', 'v_a', keys, 2), undefined);
});

test('AES-128 playlist: EXT-X-MAP before the first EXT-X-KEY (clear init, §4.3.2.5), explicit IVs, key lines only on change', () => {
  const k = (index: number, iv: string) => ({ index, iv: iv.repeat(32) });
  const text = mediaPlaylist([
    { uri: 's0.m4s', durationS: 2, bytes: 1, key: k(0, 'a') },
    { uri: 's1.m4s', durationS: 2, bytes: 1, key: k(0, 'a') },
    { uri: 's2.m4s', durationS: 2, bytes: 1, key: k(1, 'b') },
  ], { segmentSeconds: 2, ended: true });
  const lines = text.split('\n');
  const map = lines.findIndex((l) => l.startsWith('#EXT-X-MAP'));
  const keyLines = lines.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('#EXT-X-KEY'));
  assert.ok(keyLines.every(([, i]) => i > map));
  assert.deepEqual(keyLines.map(([l]) => l), [
    `#EXT-X-KEY:METHOD=AES-128,URI="../keys/0.key",IV=0x${'a'.repeat(32)}`,
    `#EXT-X-KEY:METHOD=AES-128,URI="../keys/1.key",IV=0x${'b'.repeat(32)}`,
  ]);
  assert.ok(!mediaPlaylist([{ uri: 's0.m4s', durationS: 2, bytes: 1 }], { segmentSeconds: 2, ended: true }).includes('EXT-X-KEY'), 'clear playlists unchanged');
});

test('ClearKey license requests: KIDs parsed; malformed JSON, kids and session types → LICENSE_REQUEST_INVALID naming the problem', () => {
  const kid = randomBytes(16);
  assert.deepEqual(parseLicenseRequest(Buffer.from(JSON.stringify({ kids: [kid.toString('base64url')], type: 'temporary' }))), [kid]);
  const bad: Array<[string, RegExp]> = [
    ['{"kids":', /not JSON/],
    ['[1]', /JSON object/],
    ['{"kids":[]}', /array of 1 to 16/],
    [JSON.stringify({ kids: Array(17).fill(kid.toString('base64url')) }), /array of 1 to 16/],
    ['{"kids":["short"]}', /"short" is not 16 bytes/],
    ['{"kids":[42]}', /42 is not 16 bytes/],
    [JSON.stringify({ kids: [kid.toString('base64url')], type: 'persistent-license' }), /"persistent-license" is not supported/],
  ];
  for (const [body, why] of bad) {
    assert.throws(() => parseLicenseRequest(Buffer.from(body)), (err: unknown) => isStromError(err) && err.code === 'LICENSE_REQUEST_INVALID' && err.statusCode === 400 && why.test(err.message), body);
  }
});
