/**
 * A private Caddy running the shipped HTTP/3 front (deploy/h3/Caddyfile) in front of a Strom
 * upstream, for tests and benchmarks: a self-signed certificate for a DNS name (Chromium's QUIC
 * refuses an IP-literal origin with ERR_QUIC_PROTOCOL_ERROR), random port on 127.0.0.1 for TCP
 * (h1/h2) and UDP (h3), admin endpoint off, Caddy's data/config directories in one temp directory
 * (nothing touches the machine's own Caddy, its service or ~/.local/share/caddy). Also the
 * Chromium flags that send a page's requests for that origin over QUIC, and a CDP recorder of the
 * protocol each response came over.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { ensureSelfSignedCert } from '../../src/http/tls-self-signed.js';
import { CHROMIUM_ARGS } from './browser.js';
import { findBinary } from './cdn.js';
import { freePort } from './free-port.js';
import { terminate, waitPort } from './child-process.js';

/** The shipped Caddyfile. */
export const CADDYFILE = path.join(path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..'), 'deploy', 'h3', 'Caddyfile');
/** The DNS name the front's certificate is for; browsers map it to 127.0.0.1. */
export const H3_HOST = 'strom.test';

/** A running Caddy front. */
export interface CaddyFront {
  /** https://strom.test:<port> (resolve strom.test to 127.0.0.1 to use it). */
  url: string;
  port: number;
  /** base64 SHA-256 of the certificate's SPKI (Chromium's --ignore-certificate-errors-spki-list). */
  spki: string;
  /** The certificate (PEM file), for clients that verify it. */
  cert: string;
  /** Caddy's own output, for assertion messages. */
  diagnostics(): string;
  stop(): Promise<void>;
}

/** Caddy with deploy/h3/Caddyfile in front of 127.0.0.1:`upstreamPort`. */
export async function startCaddy(upstreamPort: number): Promise<CaddyFront> {
  const bin = findBinary('caddy');
  if (bin === null) throw new Error('caddy is not installed');
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-caddy-'));
  const tls = await ensureSelfSignedCert(dir, H3_HOST);
  // A free TCP port; the UDP port of the same number is free too on a machine where nothing else
  // speaks QUIC, and Caddy fails to start (seen in diagnostics) when it is not.
  const port = await freePort();
  let output = '';
  const child = spawn(bin, ['run', '--config', CADDYFILE, '--adapter', 'caddyfile'], {
    cwd: dir,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, XDG_DATA_HOME: path.join(dir, 'data'), XDG_CONFIG_HOME: path.join(dir, 'config'),
      STROM_UPSTREAM: `127.0.0.1:${upstreamPort}`, STROM_H3_SITE: `https://${H3_HOST}:${port}`, STROM_H3_BIND: '127.0.0.1',
      STROM_TLS_CERT: tls.cert, STROM_TLS_KEY: tls.key, STROM_H3_ADMIN: 'off',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const out of [child.stdout, child.stderr]) out.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-20_000)));
  await waitPort(port, child, 15_000, () => output).catch(async (e: unknown) => {
    await terminate(child);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  });
  return {
    url: `https://${H3_HOST}:${port}`, port, spki: tls.spki, cert: tls.cert,
    diagnostics: () => output,
    async stop() {
      await terminate(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Chromium flags that speak QUIC to `front` from the first request (no Alt-Svc round) and trust its certificate; `address` is where the name resolves (a relay in front of the front's UDP port). */
export function quicChromiumArgs(front: CaddyFront, address = '127.0.0.1'): string[] {
  return [
    ...CHROMIUM_ARGS.filter((a) => a !== '--disable-quic'),
    `--origin-to-force-quic-on=${H3_HOST}:${front.port}`,
    `--host-resolver-rules=MAP ${H3_HOST} ${address}`,
    `--ignore-certificate-errors-spki-list=${front.spki}`,
  ];
}

/** The same browser reaching `front` over TCP only (h2 after ALPN), for comparisons. */
export function tcpChromiumArgs(front: CaddyFront): string[] {
  return [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${H3_HOST} 127.0.0.1`, `--ignore-certificate-errors-spki-list=${front.spki}`];
}

/** Record, through CDP Network.responseReceived, the protocol (`h3`, `h2`, `http/1.1`) of every response `page` receives. */
export async function recordProtocols(page: Page): Promise<Map<string, string>> {
  const seen = new Map<string, string>();
  const cdp = await page.context().newCDPSession(page);
  cdp.on('Network.responseReceived', (e) => {
    if (e.response.protocol !== undefined) seen.set(e.response.url, e.response.protocol);
  });
  await cdp.send('Network.enable');
  return seen;
}
