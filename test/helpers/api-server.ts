/**
 * A Strom server on a temporary data directory for control-API tests, plus helpers to mint API
 * tokens the way `strom token create` does and to call the API with fetch.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';
import { buildStrom, type Strom } from '../../src/app.js';
import { testConfig, type RawSettings } from '../../src/config.js';
import { loadApiSecret, signApiToken } from '../../src/auth/api-auth.js';
import type { Scope } from '../../src/auth/scopes.js';

/** A running test server. */
export interface ApiServer {
  strom: Strom;
  url: string;
  dataDir: string;
  /** A valid API token with these scopes. */
  token(scopes: Scope[], ttlS?: number, sub?: string): Promise<string>;
  /** fetch `path` with an optional bearer token and JSON body. */
  call(method: string, path: string, o?: { token?: string; json?: unknown; body?: string; headers?: Record<string, string> }): Promise<Response>;
}

/** Start a server (closed and its directory removed after the test). */
export async function startApi(t: TestContext, overrides: RawSettings = {}, dataDir?: string): Promise<ApiServer> {
  const dir = dataDir ?? mkdtempSync(path.join(tmpdir(), 'strom-api-'));
  const strom = await buildStrom(testConfig({ dataDir: dir, 'rtmp.enabled': false, ...overrides }));
  const { url } = await strom.listen();
  t.after(async () => {
    await strom.close();
    if (!dataDir) rmSync(dir, { recursive: true, force: true });
  });
  const secret = loadApiSecret(strom.config);
  return {
    strom, url, dataDir: dir,
    token: (scopes, ttlS = 600, sub) => signApiToken(strom.config, secret, { scopes, ttlS, sub }),
    call(method, p, o = {}) {
      const headers: Record<string, string> = { ...(o.headers ?? {}) };
      if (o.token) headers.authorization = `Bearer ${o.token}`;
      let body = o.body;
      if (o.json !== undefined) {
        body = JSON.stringify(o.json);
        headers['content-type'] = 'application/json';
      }
      return fetch(url + p, { method, headers, body });
    },
  };
}
