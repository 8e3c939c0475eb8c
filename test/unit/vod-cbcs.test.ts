/**
 * The CMAF cbcs packager (ISO/IEC 23001-7) on real ffmpeg CMAF output: encrypt, then decrypt with
 * node:crypto from what the boxes say (senc subsamples, saio/saiz, trun offsets, tenc pattern and
 * constant IV) back to the original bytes; clear where the scheme says clear; and the init
 * segment's encv/enca + sinf + pssh. ffmpeg itself decrypts the result with the key
 * (`-decryption_key`) to the same frames as the clear input.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { findBox, codecString } from '../../src/vod/cmaf-inspect.js';
import { ContentKeys } from '../../src/vod/protection/content-keys.js';
import { cbcsTrack, nalLengthSize } from '../../src/vod/protection/cbcs-track.js';
import { CLEARKEY_SYSTEM_ID, WIDEVINE_SYSTEM_ID } from '../../src/vod/protection/cbcs-init.js';
import { avcSubsamples, blockCipher, cryptSample, SLICE_CLEAR_BYTES, type Subsample } from '../../src/vod/protection/cbcs-sample.js';
import { scratch } from '../helpers/vod-fixtures.js';

const run = promisify(execFile);
const c = new ContentKeys(Buffer.alloc(32, 3)).cenc('v_cbcs');
let dir: string;
const clear: Record<'video' | 'audio', { init: Buffer; seg: Buffer }> = {} as never;

before(async () => {
  dir = scratch('cbcs');
  await run('ffmpeg', ['-hide_banner', '-loglevel', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x180:rate=30:duration=2', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000:duration=2',
    '-map', '0:v', '-map', '1:a', '-c:v', 'libx264', '-preset', 'veryfast', '-profile:v', 'high', '-b:v', '300k', '-g', '60', '-c:a', 'aac', '-b:a', '64k',
    '-f', 'hls', '-hls_time', '2', '-hls_playlist_type', 'vod', '-hls_segment_type', 'fmp4', '-hls_fmp4_init_filename', 'init.mp4',
    '-var_stream_map', 'v:0,agroup:a,name:v a:0,agroup:a,name:a', '-hls_segment_filename', path.join(dir, '%v', 'seg_%05d.m4s'), path.join(dir, '%v', 'index.m3u8')]);
  clear.video = { init: readFileSync(path.join(dir, 'v', 'init_0.mp4')), seg: readFileSync(path.join(dir, 'v', 'seg_00000.m4s')) };
  clear.audio = { init: readFileSync(path.join(dir, 'a', 'init_1.mp4')), seg: readFileSync(path.join(dir, 'a', 'seg_00000.m4s')) };
});

/** What a CDM reads: samples located by trun + the moof, their subsamples from senc (via saio/saiz). */
function parseProtected(seg: Buffer): { moofAt: number; samples: Array<{ at: number; size: number; subs: Subsample[] | null }>; auxOffset: number; sencFirst: number; auxSizes: number[] } {
  const moofAt = seg.indexOf('moof') - 4;
  const moof = seg.subarray(moofAt);
  const tfhd = findBox(moof, ['moof', 'traf', 'tfhd'])!;
  const trun = findBox(moof, ['moof', 'traf', 'trun'])!;
  const senc = findBox(moof, ['moof', 'traf', 'senc'])!;
  const saiz = findBox(moof, ['moof', 'traf', 'saiz'])!;
  const saio = findBox(moof, ['moof', 'traf', 'saio'])!;
  const tf = tfhd.readUInt32BE(0) & 0xffffff;
  const defSize = tf & 0x10 ? tfhd.readUInt32BE(8 + (tf & 0x8 ? 4 : 0)) : 0;
  const f = trun.readUInt32BE(0) & 0xffffff;
  const count = trun.readUInt32BE(4);
  let p = 12 + (f & 0x4 ? 4 : 0);
  let at = moofAt + trun.readInt32BE(8);
  const subsFlag = (senc.readUInt32BE(0) & 2) !== 0;
  let q = 8;
  const samples = [];
  for (let i = 0; i < count; i++) {
    if (f & 0x100) p += 4;
    const size = f & 0x200 ? trun.readUInt32BE(p) : defSize;
    p += (f & 0x200 ? 4 : 0) + (f & 0x400 ? 4 : 0) + (f & 0x800 ? 4 : 0);
    let subs: Subsample[] | null = null;
    if (subsFlag) {
      const n = senc.readUInt16BE(q);
      subs = Array.from({ length: n }, (_, j) => ({ clear: senc.readUInt16BE(q + 2 + 6 * j), protected: senc.readUInt32BE(q + 4 + 6 * j) }));
      q += 2 + 6 * n;
    }
    samples.push({ at, size, subs });
    at += size;
  }
  const auxSizes = saiz[4] === 0 ? [...saiz.subarray(9, 9 + saiz.readUInt32BE(5))] : [];
  return { moofAt, samples, auxOffset: saio.readUInt32BE(8), sencFirst: senc.byteOffset - moof.byteOffset + 8, auxSizes };
}

test('init: encv/enca with sinf (frma, schm cbcs 1.0, tenc v1 pattern + KID + constant IV) and ClearKey + Widevine pssh', () => {
  for (const kind of ['video', 'audio'] as const) {
    const init = cbcsTrack(clear[kind].init, kind, c).init;
    const entry = kind === 'video' ? 'encv' : 'enca';
    const stsd = findBox(init, ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd'])!;
    assert.equal(stsd.toString('latin1', 12, 16), entry);
    const sinfAt = init.indexOf('sinf');
    assert.equal(init.toString('latin1', init.indexOf('frma') + 4, init.indexOf('frma') + 8), kind === 'video' ? 'avc1' : 'mp4a');
    assert.equal(init.toString('latin1', init.indexOf('schm') + 8, init.indexOf('schm') + 12), 'cbcs');
    const tenc = init.subarray(init.indexOf('tenc') + 4);
    assert.equal(tenc[0], 1, 'tenc version 1');
    assert.equal(tenc[5], kind === 'video' ? 0x19 : 0x00, 'pattern 1:9 video, 0:0 audio');
    assert.deepEqual([tenc[6], tenc[7]], [1, 0], 'protected, Per_Sample_IV_Size 0');
    assert.deepEqual(tenc.subarray(8, 24), c.kid);
    assert.deepEqual([tenc[24], ...tenc.subarray(25, 41)], [16, ...c.iv]);
    assert.ok(sinfAt > 0);
    assert.ok(init.indexOf(CLEARKEY_SYSTEM_ID) > 0 && init.indexOf(c.kid, init.indexOf(CLEARKEY_SYSTEM_ID)) > 0, 'ClearKey pssh lists the KID');
    assert.ok(init.indexOf(WIDEVINE_SYSTEM_ID) > 0 && init.indexOf(Buffer.concat([Buffer.from([0x12, 0x10]), c.kid])) > 0, 'Widevine pssh protobuf key_id');
    assert.equal(findBox(init, ['moov'])!.length + 8, init.length - init.indexOf('moov') + 4, 'moov size covers the pssh boxes');
  }
  assert.equal(codecString(clear.video.init), 'avc1.64000d');
});

test('video: subsamples leave NAL lengths, headers and the first 32 bytes of slices clear; protected ranges are whole blocks', () => {
  const ls = nalLengthSize(clear.video.init);
  assert.equal(ls, 4);
  const enc = cbcsTrack(clear.video.init, 'video', c).segment(clear.video.seg);
  const p = parseProtected(enc);
  assert.equal(p.auxOffset, p.sencFirst, 'saio points at the first senc entry');
  assert.deepEqual(p.auxSizes, p.samples.map((s) => 2 + 6 * s.subs!.length), 'saiz sizes match the senc entries');
  const growth = enc.length - clear.video.seg.length; // only the moof grew: samples moved by that much
  for (const s of p.samples) {
    const plain = clear.video.seg.subarray(s.at - growth, s.at - growth + s.size);
    const cipher = Buffer.from(enc.subarray(s.at, s.at + s.size));
    assert.deepEqual(s.subs, avcSubsamples(plain, ls));
    assert.equal(s.subs!.reduce((a, x) => a + x.clear + x.protected, 0), s.size);
    let at = 0;
    for (const x of s.subs!) {
      assert.deepEqual(cipher.subarray(at, at + x.clear), plain.subarray(at, at + x.clear), 'clear bytes are clear');
      assert.equal(x.protected % 16, 0);
      if (x.protected > 0) {
        assert.ok(x.clear >= ls + SLICE_CLEAR_BYTES, 'at least length + slice leader clear');
        assert.notDeepEqual(cipher.subarray(at + x.clear, at + x.clear + 16), plain.subarray(at + x.clear, at + x.clear + 16), 'first protected block encrypted');
        if (x.protected >= 32) assert.deepEqual(cipher.subarray(at + x.clear + 16, at + x.clear + 32), plain.subarray(at + x.clear + 16, at + x.clear + 32), '1:9 — the next block is skipped');
      }
      at += x.clear + x.protected;
    }
    cryptSample(cipher, s.subs, blockCipher(c.key, true), c.iv, 1, 9);
    assert.deepEqual(cipher, plain, 'decrypts back to the original sample');
  }
});

test('audio: whole-sample encryption, trailing partial block clear, empty senc entries', () => {
  const enc = cbcsTrack(clear.audio.init, 'audio', c).segment(clear.audio.seg);
  const p = parseProtected(enc);
  assert.ok(p.samples.every((s) => s.subs === null));
  assert.ok(p.auxSizes.every((n) => n === 0));
  const growth = enc.length - clear.audio.seg.length;
  for (const s of p.samples) {
    const plain = clear.audio.seg.subarray(s.at - growth, s.at - growth + s.size);
    const cipher = Buffer.from(enc.subarray(s.at, s.at + s.size));
    const full = Math.floor(s.size / 16) * 16;
    if (full > 0) assert.notDeepEqual(cipher.subarray(0, 16), plain.subarray(0, 16));
    assert.deepEqual(cipher.subarray(full), plain.subarray(full), 'partial block clear');
    cryptSample(cipher, null, blockCipher(c.key, true), c.iv, 0, 0);
    assert.deepEqual(cipher, plain);
  }
});

test('ffmpeg decrypts the packaged segments with the key to the same frames as the clear ones', async () => {
  for (const kind of ['video', 'audio'] as const) {
    const t = cbcsTrack(clear[kind].init, kind, c);
    const enc = path.join(dir, `${kind}-enc.mp4`);
    const plain = path.join(dir, `${kind}-clear.mp4`);
    writeFileSync(enc, Buffer.concat([t.init, t.segment(clear[kind].seg)]));
    writeFileSync(plain, Buffer.concat([clear[kind].init, clear[kind].seg]));
    const md5 = async (args: string[]) => (await run('ffmpeg', ['-hide_banner', '-v', 'error', ...args, '-f', 'framemd5', '-'], { maxBuffer: 16 * 1024 * 1024 })).stdout;
    const expected = await md5(['-i', plain]);
    assert.ok(expected.split('\n').length > 20);
    assert.equal(await md5(['-decryption_key', c.key.toString('hex'), '-i', enc]), expected, kind);
  }
});
