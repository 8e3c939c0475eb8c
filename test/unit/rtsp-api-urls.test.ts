/** The live stream resource's RTSP URLs: `ingest.rtsp` (the RTMP path shape, /live/<streamKey>) and `playback.rtsp`, only with rtsp.enabled. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { testConfig } from '../../src/config.js';
import { livePlayback, liveStreamJson, rtspBase } from '../../src/http/api/live-streams.js';
import type { LiveStreamRow } from '../../src/store/db/schema.js';

const row: LiveStreamRow = { id: 'ls1', title: 't', stream_key: 'k3y', visibility: 'public', status: 'idle', record: 0, abr: 0, srt_passphrase: null, source: null, source_on_demand: 1, scheduled_start: null, expected_viewers: null, created_at: 0, updated_at: 0 };

test('RTSP URLs appear with rtsp.enabled, on the bound port, and carry playback tokens', () => {
  const off = liveStreamJson(row, testConfig());
  assert.equal('rtsp' in off.ingest, false);
  assert.equal('rtsp' in off.playback, false);
  const config = testConfig({ 'rtsp.enabled': 'true', host: '127.0.0.1' });
  const on = liveStreamJson(row, config, 1935, null, null, 18554);
  assert.equal(on.ingest.rtsp, 'rtsp://127.0.0.1:18554/live/k3y');
  assert.equal(on.playback.rtsp, 'rtsp://127.0.0.1:18554/live/ls1');
  assert.equal(livePlayback('ls1', 'tok', null, rtspBase(config, 18554)).rtsp, 'rtsp://127.0.0.1:18554/live/ls1?token=tok');
  assert.equal(rtspBase(testConfig({ 'rtsp.enabled': 'true', 'rtsp.publicUrl': 'rtsp://cams.example.com/live/' }), 1), 'rtsp://cams.example.com/live');
});
