/**
 * A self-signed certificate for trying HTTPS and HTTP/2 locally (`tls.selfSigned`,
 * `strom serve --tls-self-signed`): browsers use 103 Early Hints and multiplexing only over h2,
 * which needs TLS. Generated once into `<dataDir>/tls/` (EC P-256, SHA-256, one year, SANs for
 * localhost, 127.0.0.1, ::1 and the listen host) with the `selfsigned` library, and reused until
 * it is within a week of expiry. Browsers warn about it; a production server sets `tls.cert` and
 * `tls.key` to a real certificate instead (docs/OPERATIONS.md). The SPKI hash printed at start
 * lets Chromium trust exactly this key: `--ignore-certificate-errors-spki-list=<hash>`.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import type { Logger } from 'pino';
import { generate } from 'selfsigned';
import type { Config } from '../config.js';

/** Where the certificate and key are, and the base64 SHA-256 of the certificate's public key. */
export interface SelfSignedCert {
  cert: string;
  key: string;
  spki: string;
  /** True when it was generated now (not found in the data directory). */
  created: boolean;
}

const RENEW_BEFORE_MS = 7 * 24 * 3600_000;
const VALID_MS = 365 * 24 * 3600_000;

/** The base64 SHA-256 of a PEM certificate's SubjectPublicKeyInfo (what Chromium's SPKI allow-list takes). */
export function spkiHash(certPem: string): string {
  const der = new X509Certificate(certPem).publicKey.export({ type: 'spki', format: 'der' });
  return createHash('sha256').update(der).digest('base64');
}

/** The certificate under `dataDir/tls`, generated (or renewed) when missing or about to expire. */
export async function ensureSelfSignedCert(dataDir: string, host: string): Promise<SelfSignedCert> {
  const dir = path.join(dataDir, 'tls');
  const cert = path.join(dir, 'self-signed.crt');
  const key = path.join(dir, 'self-signed.key');
  if (existsSync(cert) && existsSync(key)) {
    const pem = readFileSync(cert, 'utf8');
    if (Date.parse(new X509Certificate(pem).validTo) - Date.now() > RENEW_BEFORE_MS) return { cert, key, spki: spkiHash(pem), created: false };
  }
  const names = new Set(['localhost', '127.0.0.1', '::1']);
  if (host !== '0.0.0.0' && host !== '::' && host !== '') names.add(host);
  const altNames = [...names].map((n) => (isIP(n) === 0 ? { type: 2 as const, value: n } : { type: 7 as const, ip: n }));
  const now = new Date();
  const pems = await generate([{ name: 'commonName', value: 'Strom self-signed' }], {
    keyType: 'ec', curve: 'P-256', algorithm: 'sha256',
    notBeforeDate: now, notAfterDate: new Date(now.getTime() + VALID_MS),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  // Written to temporary names and renamed, so a crash never leaves a key without its certificate.
  writeFileSync(`${key}.tmp`, pems.private, { mode: 0o600 });
  writeFileSync(`${cert}.tmp`, pems.cert);
  renameSync(`${key}.tmp`, key);
  renameSync(`${cert}.tmp`, cert);
  return { cert, key, spki: spkiHash(pems.cert), created: true };
}

/** `config` with `tls.cert`/`tls.key` pointing at the self-signed certificate when `tls.selfSigned` asks for one. */
export async function resolveTls(config: Config, log: Logger): Promise<Config> {
  if (!config.tls.selfSigned || config.tls.cert !== null) return config;
  mkdirSync(config.dataDir, { recursive: true });
  const c = await ensureSelfSignedCert(config.dataDir, config.host);
  log.info({ cert: c.cert, spki: c.spki, created: c.created }, `serving HTTPS with a self-signed certificate (Chromium: --ignore-certificate-errors-spki-list=${c.spki})`);
  return { ...config, tls: { ...config.tls, cert: c.cert, key: c.key } };
}
