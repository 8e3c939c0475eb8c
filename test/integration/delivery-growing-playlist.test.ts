/**
 * A media playlist still being published (EVENT, no EXT-X-ENDLIST) is served short-lived, and the
 * same URL turns long-lived once the asset is complete (SPECS.md "Cache-Control").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildStrom } from '../../src/app.js';
import { testConfig } from '../../src/config.js';

const EVENT = '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-PLAYLIST-TYPE:EVENT\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:4.0,\nseg_00000.m4s\n';

test('growing media playlists are short-lived; finished ones long-lived', async (t) => {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-growing-'));
  const rung = path.join(dataDir, 'assets', 'grow1', 'v360');
  mkdirSync(rung, { recursive: true });
  writeFileSync(path.join(rung, 'index.m3u8'), EVENT);
  const strom = await buildStrom(testConfig({ dataDir, 'rtmp.port': 0, 'jobs.enabled': false }));
  const { url } = await strom.listen();
  t.after(async () => {
    await strom.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const growing = await fetch(`${url}/v/grow1/v360/index.m3u8`);
  assert.equal(growing.status, 200);
  assert.equal(growing.headers.get('cache-control'), 'public, max-age=1');

  writeFileSync(path.join(rung, 'index.m3u8.tmp'), `${EVENT.replace('EVENT', 'VOD')}#EXT-X-ENDLIST\n`);
  const { renameSync } = await import('node:fs');
  renameSync(path.join(rung, 'index.m3u8.tmp'), path.join(rung, 'index.m3u8'));
  strom.delivery.catalog.invalidateAsset('grow1'); // what the VOD service does when an asset is ready
  const done = await fetch(`${url}/v/grow1/v360/index.m3u8`);
  assert.equal(done.headers.get('cache-control'), 'public, max-age=3600');
  assert.match(await done.text(), /#EXT-X-ENDLIST/);
});
