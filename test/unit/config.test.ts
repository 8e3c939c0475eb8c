/** Configuration: defaults < file < env < flags, units, and errors that name the setting. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { envName, loadConfig, resolveConfig, testConfig } from '../../src/config.js';
import { isStromError } from '../../src/errors.js';

const MB = 1024 * 1024;

/** Assert `fn` throws CONFIG_INVALID (or the given code) with a message naming `setting`. */
function throwsNaming(fn: () => unknown, setting: string, code: 'CONFIG_INVALID' | 'CONFIG_FILE_UNREADABLE' = 'CONFIG_INVALID'): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(isStromError(err, code), `expected ${code}, got ${String(err)}`);
    assert.ok(err.message.includes(setting), `message ${JSON.stringify(err.message)} names ${setting}`);
    return true;
  });
}

function withFile(content: string, run: (file: string) => void): void {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-config-'));
  try {
    const file = path.join(dir, 'strom.json');
    writeFileSync(file, content);
    run(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('defaults apply when nothing is set', () => {
  const c = loadConfig({ env: {}, flags: {} });
  assert.equal(c.port, 8080);
  assert.equal(c.host, '127.0.0.1');
  assert.equal(c.delivery.cacheBytes, 256 * MB);
  assert.equal(c.timeouts.headersMs, 10_000);
  assert.equal(c.delivery.http2Push, false);
  assert.equal(c.dataDir, path.resolve('./data'));
});

test('precedence: defaults < file < env < flags', () => {
  withFile(JSON.stringify({ port: 1111, host: '0.0.0.0', delivery: { cacheBytes: '1MB', earlyHints: false } }), (file) => {
    const fileOnly = loadConfig({ file, env: {}, flags: {} });
    assert.equal(fileOnly.port, 1111);
    assert.equal(fileOnly.delivery.cacheBytes, MB);
    assert.equal(fileOnly.delivery.earlyHints, false);

    const env = { STROM_PORT: '2222', STROM_DELIVERY_CACHE_BYTES: '2MB' };
    const fileEnv = loadConfig({ file, env, flags: {} });
    assert.equal(fileEnv.port, 2222);
    assert.equal(fileEnv.delivery.cacheBytes, 2 * MB);
    assert.equal(fileEnv.host, '0.0.0.0', 'file value kept where env is silent');

    const all = loadConfig({ file, env, flags: { port: '3333', host: undefined } });
    assert.equal(all.port, 3333);
    assert.equal(all.delivery.cacheBytes, 2 * MB);
    assert.equal(all.host, '0.0.0.0', 'an undefined flag does not override');
  });
});

test('STROM_CONFIG names the config file when no file is given', () => {
  withFile(JSON.stringify({ port: 4444 }), (file) => {
    assert.equal(loadConfig({ env: { STROM_CONFIG: file } }).port, 4444);
  });
});

test('env names are derived from dotted keys', () => {
  assert.equal(envName('delivery.cacheBytes'), 'STROM_DELIVERY_CACHE_BYTES');
  assert.equal(envName('timeouts.headersMs'), 'STROM_TIMEOUTS_HEADERS_MS');
  assert.equal(envName('port'), 'STROM_PORT');
  assert.equal(loadConfig({ env: { STROM_TIMEOUTS_HEADERS_MS: '2s' } }).timeouts.headersMs, 2000);
});

test('byte units', () => {
  const bytes = (v: string | number) => testConfig({ 'delivery.cacheBytes': v }).delivery.cacheBytes;
  assert.equal(bytes('256MB'), 256 * MB);
  assert.equal(bytes('256mb'), 256 * MB);
  assert.equal(bytes('64KiB'), 64 * 1024);
  assert.equal(bytes('1G'), 1024 * MB);
  assert.equal(bytes('1.5MB'), 1.5 * MB);
  assert.equal(bytes('4096'), 4096);
  assert.equal(bytes(12345), 12345);
});

test('duration units', () => {
  const ms = (v: string | number) => testConfig({ 'timeouts.shutdownMs': v }).timeouts.shutdownMs;
  assert.equal(ms('30s'), 30_000);
  assert.equal(ms('250ms'), 250);
  assert.equal(ms('2m'), 120_000);
  assert.equal(ms('1h'), 3_600_000);
  assert.equal(ms('1.5s'), 1500);
  assert.equal(ms('750'), 750);
});

test('booleans', () => {
  assert.equal(testConfig({ 'delivery.http2Push': 'yes' }).delivery.http2Push, true);
  assert.equal(testConfig({ 'delivery.http2Push': 'off' }).delivery.http2Push, false);
  assert.equal(testConfig({ 'delivery.http2Push': true }).delivery.http2Push, true);
  throwsNaming(() => testConfig({ 'delivery.http2Push': 'maybe' }), 'delivery.http2Push');
});

test('bad values throw naming the setting', () => {
  throwsNaming(() => testConfig({ port: 'abc' }), 'port');
  throwsNaming(() => testConfig({ port: 70000 }), 'port');
  throwsNaming(() => testConfig({ port: '-1' }), 'port');
  throwsNaming(() => testConfig({ port: '80.5' }), 'port');
  throwsNaming(() => testConfig({ 'delivery.cacheBytes': 'lots' }), 'delivery.cacheBytes');
  throwsNaming(() => testConfig({ 'delivery.cacheBytes': '5 parsecs' }), 'delivery.cacheBytes');
  throwsNaming(() => testConfig({ 'timeouts.headersMs': '10MB' }), 'timeouts.headersMs');
  throwsNaming(() => testConfig({ 'timeouts.headersMs': '50ms' }), 'timeouts.headersMs');
  throwsNaming(() => testConfig({ logLevel: 'loud' }), 'logLevel');
  throwsNaming(() => testConfig({ host: 42 }), 'host');
  throwsNaming(() => loadConfig({ env: { STROM_PORT: 'abc' } }), 'port');
});

test('webrtc.announcedAddresses: IPv4 only, one per webrtc.hostAddresses entry', () => {
  assert.deepEqual(testConfig({ 'webrtc.announcedAddresses': '203.0.113.7' }).webrtc.announcedAddresses, ['203.0.113.7']);
  throwsNaming(() => testConfig({ 'webrtc.announcedAddresses': 'vm.example.com' }), 'webrtc.announcedAddresses');
  throwsNaming(() => testConfig({ 'webrtc.announcedAddresses': '203.0.113.7,203.0.113.8' }), 'webrtc.announcedAddresses');
  throwsNaming(() => testConfig({ 'webrtc.hostAddresses': '', 'webrtc.announcedAddresses': '203.0.113.7' }), 'webrtc.announcedAddresses');
  throwsNaming(() => testConfig({ 'webrtc.hostAddresses': '::1' }), 'webrtc.hostAddresses');
});

test('unknown settings are rejected, from any layer', () => {
  throwsNaming(() => testConfig({ foo: 1 }), 'foo');
  throwsNaming(() => testConfig({ 'delivery.cacheByte': '1MB' }), 'delivery.cacheByte');
  withFile(JSON.stringify({ delivery: { nope: true } }), (file) => throwsNaming(() => loadConfig({ file, env: {} }), 'delivery.nope'));
});

test('tls.cert and tls.key must come together', () => {
  throwsNaming(() => testConfig({ 'tls.cert': '/x.pem' }), 'tls.key');
  throwsNaming(() => testConfig({ 'tls.key': '/x.pem' }), 'tls.cert');
});

test('unreadable or malformed config files are reported with the file name', () => {
  throwsNaming(() => loadConfig({ file: '/nonexistent/strom.json', env: {} }), '/nonexistent/strom.json', 'CONFIG_FILE_UNREADABLE');
  withFile('{ not json', (file) => throwsNaming(() => loadConfig({ file, env: {} }), file, 'CONFIG_FILE_UNREADABLE'));
  withFile('[1,2]', (file) => throwsNaming(() => loadConfig({ file, env: {} }), file, 'CONFIG_FILE_UNREADABLE'));
});

test('resolveConfig makes dataDir absolute', () => {
  assert.equal(resolveConfig({ dataDir: 'rel/dir' }).dataDir, path.resolve('rel/dir'));
});
