/**
 * Fault: another process locks the SQLite database file. A second process — a Node program with
 * better-sqlite3, or the `sqlite3` shell — holds `BEGIN EXCLUSIVE`, in WAL mode the write lock
 * (`locking_mode=EXCLUSIVE`, which would shut readers out, cannot be taken while Strom has the
 * file open). While the lock is held an API write answers 503 STORE_UNAVAILABLE naming the
 * database file, with Retry-After, within about the busy timeout (the event loop is not held for
 * seconds); reads answer, and VOD and live playback keep flowing. When the lock is released the
 * next write works. A database on a read-only filesystem is refused the same way.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import { openStore } from '../../src/store/db/database.js';
import { isStoreUnavailable } from '../../src/store/db/store-outage.js';
import { makeFixtureAsset } from '../helpers/fixture-asset.js';
import { flvViewer, sendFrames, syntheticPublisher } from '../helpers/live-fixtures.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A second process holding the write lock of `file` until released: a Node program or the sqlite3 shell. */
async function lockDatabase(t: TestContext, file: string, how: 'node' | 'shell'): Promise<() => Promise<void>> {
  const child = how === 'node'
    ? spawn(process.execPath, ['-e', `const D = require('better-sqlite3'); const db = new D(${JSON.stringify(file)}); db.exec('BEGIN EXCLUSIVE'); console.log('locked');
    process.stdin.on('data', () => { db.exec('COMMIT'); db.close(); process.exit(0); });`], { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] })
    : spawn('sqlite3', [file], { stdio: ['pipe', 'pipe', 'inherit'] });
  t.after(() => child.kill('SIGKILL'));
  // The shell waits for Strom's own short writes (a live session being recorded) rather than failing
  // its BEGIN at once; `.bail on` makes a failed BEGIN end the shell instead of printing 'locked'.
  if (how === 'shell') child.stdin.write(".timeout 10000\n.bail on\nBEGIN EXCLUSIVE;\nSELECT 'locked';\n");
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => (d.toString().includes('locked') ? resolve() : undefined));
    child.once('exit', (c) => reject(new Error(`locker exited ${c}`)));
  });
  return async () => {
    const exited = new Promise((r) => child.once('exit', r));
    child.stdin.end(how === 'node' ? 'release\n' : 'COMMIT;\n.quit\n');
    await exited;
  };
}

async function setup(t: TestContext) {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-sqlite-lock-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  await makeFixtureAsset({ dataDir, id: 'a1', seconds: 2 });
  const strom = await buildStrom(testConfig({ dataDir, 'jobs.enabled': false, 'live.staticKeys': 'cam:secret' }));
  const { url } = await strom.listen();
  t.after(() => strom.close());
  const token = await signApiToken(strom.config, loadApiSecret(strom.config), { scopes: ['videos:read', 'videos:write', 'live:write'], ttlS: 600 });
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const create = (title: string) => fetch(`${url}/api/v1/live-streams`, { method: 'POST', headers, body: JSON.stringify({ title }) });
  return { strom, url, headers, create, file: path.join(dataDir, 'strom.db') };
}

for (const how of ['node', 'shell'] as const) {
  test(`database write-locked by another process (${how === 'node' ? 'better-sqlite3' : 'the sqlite3 shell'}, BEGIN EXCLUSIVE): writes 503 naming the file, playback goes on, recovery on release`, { timeout: 60_000 }, async (t) => {
    const s = await setup(t);
    assert.equal((await s.create('before')).status, 201);
    const pub = await syntheticPublisher(s.strom.live.rtmp.port()!, 'secret');
    t.after(() => pub.destroy());
    sendFrames(pub, 0, 20);
    const viewer = flvViewer(`${s.url}/live/cam.flv`);
    t.after(() => viewer.req.destroy());
    await viewer.waitTags(5);
    const release = await lockDatabase(t, s.file, how);

    const t0 = performance.now();
    const refused = await s.create('while locked');
    const took = performance.now() - t0;
    assert.equal(refused.status, 503);
    assert.equal(refused.headers.get('retry-after'), '5');
    const body = await refused.json() as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'STORE_UNAVAILABLE');
    assert.ok(body.error.message.includes(s.file), `names the file: ${body.error.message}`);
    assert.match(body.error.message, /SQLITE_BUSY|locked/);
    assert.ok(took < 3000, `answered in ${took.toFixed(0)} ms (no multi-second stall)`);

    const list = await fetch(`${s.url}/api/v1/videos`, { headers: s.headers });
    assert.equal(list.status, 200, 'reads work under a write lock (WAL)');
    await list.arrayBuffer();
    const media = await fetch(`${s.url}/v/a1/master.m3u8`);
    assert.equal(media.status, 200, 'VOD playback does not need the database');
    await media.arrayBuffer();
    const before = viewer.tags.length;
    sendFrames(pub, 20, 40);
    await viewer.waitTags(before + 10);

    await release();
    assert.equal((await s.create('after')).status, 201, 'writes work again once the lock is released');
  });
}

test('a database on a read-only filesystem: STORE_UNAVAILABLE naming the file', { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-sqlite-ro-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m', 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    return t.skip(`cannot mount a tmpfs here (needs root): ${(err as Error).message.split('\n')[0]}`);
  }
  t.after(() => {
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  const store = await openStore(dir);
  await store.videos.create({ title: 'kept', status: 'waiting' });
  await store.close();
  execFileSync('mount', ['-o', 'remount,ro', dir]);
  const err = await openStore(dir).then(async (s) => {
    await s.videos.create({ title: 'refused', status: 'waiting' });
    return null;
  }, (e: unknown) => e);
  assert.ok(isStoreUnavailable(err), `STORE_UNAVAILABLE, got ${String(err)}`);
  assert.ok(err.message.includes(path.join(dir, 'strom.db')), err.message);
});
