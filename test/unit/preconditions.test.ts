/** Conditional requests in the order of RFC 9110 §13.2.2, and If-Range (§13.1.5). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluatePreconditions, ifRangeAllows, type Validators } from '../../src/http/delivery/preconditions.js';

const lm = Date.UTC(2024, 0, 15, 12, 0, 0) / 1000;
const v: Validators = { etag: '"abc-123"', lastModifiedS: lm };
const date = (s: number) => new Date(s * 1000).toUTCString();
const before = date(lm - 60);
const exact = date(lm);
const after = date(lm + 60);

test('no conditional headers → proceed', () => {
  assert.equal(evaluatePreconditions('GET', {}, v), 'proceed');
});

test('If-Match: strong match or * proceeds, anything else is 412', () => {
  assert.equal(evaluatePreconditions('GET', { 'if-match': '"abc-123"' }, v), 'proceed');
  assert.equal(evaluatePreconditions('GET', { 'if-match': '"x", "abc-123"' }, v), 'proceed');
  assert.equal(evaluatePreconditions('GET', { 'if-match': '*' }, v), 'proceed');
  assert.equal(evaluatePreconditions('GET', { 'if-match': '"other"' }, v), 412);
  // §13.1.1: If-Match uses the strong comparison, so a weak tag never matches
  assert.equal(evaluatePreconditions('GET', { 'if-match': 'W/"abc-123"' }, v), 412);
});

test('If-Unmodified-Since: 412 when modified after the date, ignored when If-Match is present', () => {
  assert.equal(evaluatePreconditions('GET', { 'if-unmodified-since': before }, v), 412);
  assert.equal(evaluatePreconditions('GET', { 'if-unmodified-since': exact }, v), 'proceed');
  assert.equal(evaluatePreconditions('GET', { 'if-unmodified-since': after }, v), 'proceed');
  assert.equal(evaluatePreconditions('GET', { 'if-unmodified-since': 'not a date' }, v), 'proceed');
  // step 2 runs only when If-Match is absent
  assert.equal(evaluatePreconditions('GET', { 'if-match': '"abc-123"', 'if-unmodified-since': before }, v), 'proceed');
});

test('If-Match 412 comes before If-None-Match 304', () => {
  assert.equal(evaluatePreconditions('GET', { 'if-match': '"other"', 'if-none-match': '"abc-123"' }, v), 412);
  assert.equal(evaluatePreconditions('GET', { 'if-unmodified-since': before, 'if-none-match': '"abc-123"' }, v), 412);
});

test('If-None-Match: weak comparison, 304 for GET/HEAD, 412 for other methods', () => {
  assert.equal(evaluatePreconditions('GET', { 'if-none-match': '"abc-123"' }, v), 304);
  assert.equal(evaluatePreconditions('HEAD', { 'if-none-match': 'W/"abc-123"' }, v), 304);
  assert.equal(evaluatePreconditions('GET', { 'if-none-match': '"a", "b", "abc-123"' }, v), 304);
  assert.equal(evaluatePreconditions('GET', { 'if-none-match': '*' }, v), 304);
  assert.equal(evaluatePreconditions('GET', { 'if-none-match': '"other"' }, v), 'proceed');
  assert.equal(evaluatePreconditions('PUT', { 'if-none-match': '"abc-123"' }, v), 412);
  assert.equal(evaluatePreconditions('DELETE', { 'if-none-match': '*' }, v), 412);
});

test('If-Modified-Since: 304 when not modified since, only for GET/HEAD', () => {
  assert.equal(evaluatePreconditions('GET', { 'if-modified-since': exact }, v), 304);
  assert.equal(evaluatePreconditions('HEAD', { 'if-modified-since': after }, v), 304);
  assert.equal(evaluatePreconditions('GET', { 'if-modified-since': before }, v), 'proceed');
  assert.equal(evaluatePreconditions('GET', { 'if-modified-since': 'garbage' }, v), 'proceed');
  assert.equal(evaluatePreconditions('POST', { 'if-modified-since': exact }, v), 'proceed');
});

test('If-None-Match present → If-Modified-Since is ignored (§13.1.3)', () => {
  // a non-matching tag must yield 200 even though the date alone would give 304
  assert.equal(evaluatePreconditions('GET', { 'if-none-match': '"other"', 'if-modified-since': after }, v), 'proceed');
  assert.equal(evaluatePreconditions('GET', { 'if-none-match': '"abc-123"', 'if-modified-since': before }, v), 304);
});

test('If-Range: strong ETag must match exactly', () => {
  assert.equal(ifRangeAllows(undefined, v), true);
  assert.equal(ifRangeAllows('"abc-123"', v), true);
  assert.equal(ifRangeAllows('"abc-124"', v), false);
});

test('If-Range: a weak tag never matches, even with the same opaque value', () => {
  assert.equal(ifRangeAllows('W/"abc-123"', v), false);
  assert.equal(ifRangeAllows('W/"abc-123"', { etag: 'W/"abc-123"', lastModifiedS: lm }), false);
});

test('If-Range: a date must equal Last-Modified exactly', () => {
  assert.equal(ifRangeAllows(exact, v), true);
  assert.equal(ifRangeAllows(after, v), false);
  assert.equal(ifRangeAllows(before, v), false);
  assert.equal(ifRangeAllows('yesterday', v), false);
});
