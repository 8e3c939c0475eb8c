/** `parseRange` (RFC 9110 §14.1.2, §14.2): which Range headers give ranges, 416, or are ignored. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MAX_RANGES, parseRange } from '../../src/http/delivery/range.js';

test('single closed range', () => {
  assert.deepEqual(parseRange('bytes=0-99', 1000), [{ start: 0, end: 99 }]);
  assert.deepEqual(parseRange('bytes=10-10', 1000), [{ start: 10, end: 10 }]);
});

test('last-pos beyond the end is clamped to the last byte', () => {
  assert.deepEqual(parseRange('bytes=900-5000', 1000), [{ start: 900, end: 999 }]);
  assert.deepEqual(parseRange('bytes=0-99999999999999999999999', 1000), [{ start: 0, end: 999 }]);
});

test('suffix range gives the last N bytes, all of a shorter object', () => {
  assert.deepEqual(parseRange('bytes=-100', 1000), [{ start: 900, end: 999 }]);
  assert.deepEqual(parseRange('bytes=-5000', 1000), [{ start: 0, end: 999 }]);
});

test('open range runs to the end', () => {
  assert.deepEqual(parseRange('bytes=500-', 1000), [{ start: 500, end: 999 }]);
  assert.deepEqual(parseRange('bytes=999-', 1000), [{ start: 999, end: 999 }]);
});

test('multiple non-overlapping ranges keep the client order', () => {
  assert.deepEqual(parseRange('bytes=500-599,0-9', 1000), [{ start: 500, end: 599 }, { start: 0, end: 9 }]);
  assert.deepEqual(parseRange('bytes= 0-9 , 20-29 ,-10', 1000), [{ start: 0, end: 9 }, { start: 20, end: 29 }, { start: 990, end: 999 }]);
});

test('overlapping and adjacent ranges are coalesced', () => {
  assert.deepEqual(parseRange('bytes=0-99,50-149', 1000), [{ start: 0, end: 149 }]);
  assert.deepEqual(parseRange('bytes=0-9,10-19', 1000), [{ start: 0, end: 19 }]);
  assert.deepEqual(parseRange('bytes=0-499,0-499,0-499', 1000), [{ start: 0, end: 499 }]);
  assert.deepEqual(parseRange('bytes=800-,0-9,5-20,-100', 1000), [{ start: 0, end: 20 }, { start: 800, end: 999 }]);
});

test('unparseable headers are ignored (null)', () => {
  for (const h of ['bytes', 'bytes=', 'bytes=-', 'bytes=abc', 'bytes=1-2-3', 'bytes=5-2', 'bytes=0x10-20', 'bytes=1.5-2', 'bytes=0-1;2-3', '=0-1', 'bytes=--1']) {
    assert.equal(parseRange(h, 1000), null, h);
  }
});

test('units other than bytes are ignored', () => {
  assert.equal(parseRange('items=0-5', 1000), null);
  assert.equal(parseRange('pages=1-', 1000), null);
});

test('the unit name is case-insensitive (§14.1)', () => {
  assert.deepEqual(parseRange('BYTES=0-1', 1000), [{ start: 0, end: 1 }]);
});

test('a zero-length suffix is unsatisfiable', () => {
  assert.equal(parseRange('bytes=-0', 1000), 'unsatisfiable');
});

test('start at or beyond the size is unsatisfiable', () => {
  assert.equal(parseRange('bytes=1000-', 1000), 'unsatisfiable');
  assert.equal(parseRange('bytes=1000-2000', 1000), 'unsatisfiable');
  assert.equal(parseRange('bytes=5000-5001,2000-', 1000), 'unsatisfiable');
  assert.equal(parseRange('bytes=0-', 0), 'unsatisfiable');
  assert.equal(parseRange('bytes=-5', 0), 'unsatisfiable');
});

test('satisfiable ranges win over unsatisfiable ones in the same header', () => {
  assert.deepEqual(parseRange('bytes=5000-,0-0', 1000), [{ start: 0, end: 0 }]);
});

test(`more than ${MAX_RANGES} ranges are ignored, exactly ${MAX_RANGES} are served`, () => {
  const spec = (n: number) => Array.from({ length: n }, (_, i) => `${i * 10}-${i * 10 + 1}`).join(',');
  assert.equal(parseRange(`bytes=${spec(MAX_RANGES + 1)}`, 10_000), null);
  const ok = parseRange(`bytes=${spec(MAX_RANGES)}`, 10_000);
  assert.ok(Array.isArray(ok));
  assert.equal(ok.length, MAX_RANGES);
});
