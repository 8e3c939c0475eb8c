/**
 * A Strom with uploads (as `buildStrom` mounts them) whose job runner is off (`jobs.enabled=false`),
 * so finished uploads are queued but not transcoded; `uploaded` records each `video.queued` event.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { buildStrom, type Strom } from '../../src/app.js';
import { testConfig, type RawSettings } from '../../src/config.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import type { Scope } from '../../src/auth/scopes.js';
import type { BusEvent } from '../../src/events/event-bus.js';
import type { Uploads } from '../../src/http/uploads/index.js';

/** A running server with uploads. */
export interface UploadServer {
  strom: Strom;
  url: string;
  dataDir: string;
  uploads: Uploads;
  /** Every `onUploaded(videoId, sourceFile)` call, in order. */
  uploaded: Array<{ videoId: string; sourceFile: string }>;
  /** Every bus event since start. */
  events: BusEvent[];
  /** A token with `videos:write` (or the given scopes). */
  token(scopes?: Scope[]): Promise<string>;
}

/** Start a server with uploads (stopped and its directory removed after the test). */
export async function startUploads(t: TestContext, overrides: RawSettings = {}): Promise<UploadServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'strom-upload-'));
  const strom = await buildStrom(testConfig({ dataDir, 'rtmp.enabled': false, 'jobs.enabled': false, ...overrides }));
  const uploaded: UploadServer['uploaded'] = [];
  const events: BusEvent[] = [];
  strom.bus.subscribe((e) => {
    events.push(e);
    if (e.type === 'video.queued') {
      const { videoId } = e.data as { videoId: string };
      uploaded.push({ videoId, sourceFile: path.join(dataDir, 'sources', videoId, 'source') });
    }
  });
  const uploads = strom.uploads;
  const { url } = await strom.listen();
  t.after(async () => {
    await strom.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const secret = loadApiSecret(strom.config);
  return {
    strom, url, dataDir, uploads, uploaded, events,
    token: (scopes = ['videos:write']) => signApiToken(strom.config, secret, { scopes, ttlS: 600, sub: 'uploader' }),
  };
}

/** sha256 hex of a buffer or a file's bytes. */
export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(typeof data === 'string' ? readFileSync(data) : data).digest('hex');
}

/** Deterministic pseudo-random bytes (xorshift), so a mismatch can't hide in a repeating pattern. */
export function noise(n: number, seed = 0x9e3779b9): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
