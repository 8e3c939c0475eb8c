/** Pure pieces of auth: scope parsing and checks, the media token bucket, the stream cap. */
import test from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { allows, defaultScope, parseScopes, scopesOf } from '../../src/auth/scopes.js';
import { MediaRateLimiter, StreamCap } from '../../src/auth/rate-limits.js';
import { isStromError } from '../../src/errors.js';

test('scopes: scope string and scp array, admin grants all, unknown scopes rejected', () => {
  const s = scopesOf({ scope: 'videos:read  live:write', scp: ['videos:write', 7] });
  assert.deepEqual([...s].sort(), ['live:write', 'videos:read', 'videos:write']);
  assert.equal(allows(s, 'admin'), false);
  assert.equal(allows(new Set(['admin']), 'live:write'), true);
  assert.deepEqual(parseScopes('videos:read,admin'), ['videos:read', 'admin']);
  assert.throws(() => parseScopes('videos:read root'), RangeError);
  assert.equal(defaultScope('GET'), 'videos:read');
  assert.equal(defaultScope('POST'), 'videos:write');
});

test('media token bucket: capacity = per-minute budget, refills over time, bounded clients', () => {
  const l = new MediaRateLimiter(3, 16);
  const t0 = 1_000_000;
  for (let i = 0; i < 3; i++) l.take('1.1.1.1', t0);
  assert.throws(() => l.take('1.1.1.1', t0), (e) => isStromError(e, 'RATE_LIMITED') && e.headers['Retry-After'] === '20');
  l.take('2.2.2.2', t0);
  l.take('1.1.1.1', t0 + 20_000); // one token refilled after 20 s at 3/min
  assert.throws(() => l.take('1.1.1.1', t0 + 20_000));
  for (let i = 0; i < 40; i++) l.take(`10.0.0.${i}`, t0);
  assert.ok(l.size() <= 16);
  assert.equal(l.limited, 2);
});

test('stream cap: counts open responses per token and frees them on close', () => {
  const cap = new StreamCap(1);
  const a = new EventEmitter();
  cap.acquire('t', a);
  assert.throws(() => cap.acquire('t', new EventEmitter()), (e) => isStromError(e, 'TOO_MANY_STREAMS'));
  cap.acquire('u', new EventEmitter());
  a.emit('close');
  assert.equal(cap.count('t'), 0);
  cap.acquire('t', new EventEmitter());
  new StreamCap(0).acquire('t', new EventEmitter());
});
