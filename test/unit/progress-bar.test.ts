import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, renderProgress } from '../../src/cli/progress-bar.js';

test('renderProgress shows percent, phase, speed as × realtime and ETA', () => {
  const line = renderProgress({ phase: 'transcode', percent: 42.04, speed: 3.1, etaS: 75 }, 10);
  assert.match(line, /^████░░░░░░ +42\.0% {2}transcode +3\.10× realtime {2}ETA 1:15$/);
});

test('renderProgress clamps percent and tolerates missing speed and ETA', () => {
  assert.match(renderProgress({ phase: 'probe', percent: 140 }, 4), /^████ 100\.0% {2}probe +—× realtime {2}ETA --:--$/);
  assert.match(renderProgress({ phase: 'probe', percent: -3 }, 4), /^░░░░ +0\.0%/);
});

test('formatDuration formats minutes and hours and rejects nonsense', () => {
  assert.equal(formatDuration(5), '0:05');
  assert.equal(formatDuration(3725), '1:02:05');
  assert.equal(formatDuration(Number.NaN), '--:--');
});
