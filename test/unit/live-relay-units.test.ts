/**
 * The internal relay carries the hub's units between nodes as FLV: units built by every ingest —
 * WHIP (AVC from NAL units, Opus as Enhanced RTMP FourCC) and RTMP (legacy AVC and AAC, Enhanced
 * hvc1) — survive flvTagOf → FlvDemuxer → videoToUnit/audioToUnit with the same codec, times,
 * flags and payload. And the relay's node signature: accepted, refused when missing, malformed,
 * forged, for another stream or out of the ±30 s window.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FlvDemuxer } from '../../src/live/formats/flv/flv-demuxer.js';
import { audioToUnit, flvHeader, flvTagOf, scriptToUnit, TAG, videoToUnit } from '../../src/live/formats/flv/flv-tags.js';
import { aacConfigUnit, aacUnit, avcConfigUnit, avcDecoderConfig, avcUnit, opusConfigUnit, opusHead, opusUnit } from '../../src/live/formats/flv/unit-builders.js';
import type { MediaUnit } from '../../src/live/stream/media-unit.js';
import { RELAY_AUTH_SKEW_MS, signRelayRequest, verifyRelayRequest } from '../../src/live/relay/relay-auth.js';
import { isStromError } from '../../src/errors.js';
import { encodeAmf0 } from '../../src/live/rtmp/amf0.js';

/** Serialise units as an FLV stream (in odd-sized pieces), demux and parse them back. */
function roundTrip(units: MediaUnit[]): MediaUnit[] {
  const bytes = Buffer.concat([flvHeader(true, true), ...units.map(flvTagOf)]);
  const demux = new FlvDemuxer();
  const out: MediaUnit[] = [];
  for (let off = 0; off < bytes.length; off += 37) {
    for (const tag of demux.push(bytes.subarray(off, off + 37))) {
      const u = tag.type === TAG.VIDEO ? videoToUnit(tag.body, tag.timestamp) : tag.type === TAG.AUDIO ? audioToUnit(tag.body, tag.timestamp) : scriptToUnit(tag.body, tag.timestamp);
      assert.ok(u, `tag type ${tag.type} parses`);
      out.push(u);
    }
  }
  return out;
}

const fields = (u: MediaUnit) => ({ kind: u.kind, codec: u.codec, dts: u.dts, pts: u.pts, keyframe: u.keyframe, config: u.config, payload: u.payload.toString('hex') });

test('WHIP units (AVC from NAL units, Opus) round-trip through FLV unchanged', () => {
  const sps = Buffer.from([0x67, 0x42, 0xc0, 0x1e, 0xda, 0x02, 0x80]);
  const pps = Buffer.from([0x68, 0xce, 0x3c, 0x80]);
  const units = [
    avcConfigUnit(avcDecoderConfig(sps, [pps]), 0),
    opusConfigUnit(opusHead(2), 0),
    avcUnit([Buffer.from([0x65, 1, 2, 3]), Buffer.from([0x06, 9])], 0, 0, true),
    opusUnit(Buffer.from([0xfc, 0xff, 0xfe]), 20),
    avcUnit([Buffer.from([0x41, 7, 7])], 33, 66, false),
    opusUnit(Buffer.from([0xfc, 1]), 40),
  ];
  assert.deepEqual(roundTrip(units).map(fields), units.map(fields));
});

test('RTMP units (legacy AVC and AAC, Enhanced hvc1, onMetaData) round-trip through FLV unchanged', () => {
  const units = [
    scriptToUnit(encodeAmf0('onMetaData', { width: 1280, height: 720 }), 0),
    videoToUnit(Buffer.from([0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff]), 0)!,
    aacConfigUnit(Buffer.from([0x12, 0x10]), 0),
    videoToUnit(Buffer.from([0x17, 1, 0, 0, 80, 9, 9]), 1000)!,
    aacUnit(Buffer.from([1, 2, 3, 4]), 1010),
    videoToUnit(Buffer.from([0x27, 1, 0xff, 0xff, 0xf6, 1]), 1040)!,
    videoToUnit(Buffer.concat([Buffer.from([0x80 | (1 << 4) | 1]), Buffer.from('hvc1'), Buffer.from([0, 0, 40, 7])]), 0x1234567)!, // > 24-bit timestamp
  ];
  assert.deepEqual(roundTrip(units).map(fields), units.map(fields));
});

test('relay signature: accepted; 401 missing or malformed; 403 forged, other stream, outside ±30 s', () => {
  const secret = 'test-cluster-secret-0123456789';
  const now = 1_700_000_000_000;
  const h = signRelayRequest(secret, 'node-a', 'cam1', now);
  assert.match(h, /^Strom-Node node-a:1700000000000:[0-9a-f]{64}$/);
  assert.equal(verifyRelayRequest(h, secret, 'cam1', now + 1000), 'node-a');
  assert.equal(verifyRelayRequest(h, secret, 'cam1', now - RELAY_AUTH_SKEW_MS), 'node-a', 'the window is inclusive');
  const code = (f: () => unknown) => {
    try {
      f();
    } catch (err) {
      assert.ok(isStromError(err));
      return `${err.statusCode} ${err.code}`;
    }
    return 'accepted';
  };
  assert.equal(code(() => verifyRelayRequest(undefined, secret, 'cam1', now)), '401 CLUSTER_AUTH_REQUIRED');
  assert.equal(code(() => verifyRelayRequest('Bearer abc', secret, 'cam1', now)), '401 CLUSTER_AUTH_REQUIRED');
  assert.equal(code(() => verifyRelayRequest(signRelayRequest('another-secret-0123456789', 'node-a', 'cam1', now), secret, 'cam1', now)), '403 CLUSTER_AUTH_FAILED');
  assert.equal(code(() => verifyRelayRequest(h, secret, 'cam2', now)), '403 CLUSTER_AUTH_FAILED', 'bound to its stream');
  assert.equal(code(() => verifyRelayRequest(h.replace('node-a', 'node-b'), secret, 'cam1', now)), '403 CLUSTER_AUTH_FAILED', 'bound to its node');
  assert.equal(code(() => verifyRelayRequest(h, secret, 'cam1', now + RELAY_AUTH_SKEW_MS + 1)), '403 CLUSTER_AUTH_FAILED', 'expired');
  assert.equal(code(() => verifyRelayRequest(h, secret, 'cam1', now - RELAY_AUTH_SKEW_MS - 1)), '403 CLUSTER_AUTH_FAILED', 'from the future');
});
