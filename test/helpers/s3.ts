/**
 * A private S3 server for tests: s3rver (npm; the only S3 implementation installable here) on
 * 127.0.0.1 at a free port, with its own temporary directory and one bucket, started once per test
 * file and stopped after it. Strom talks to it through the real AWS SDK clients exactly as it
 * would to MinIO or AWS (path-style addressing, SigV4 with s3rver's fixed S3RVER/S3RVER keys).
 *
 * s3rver 3.7 lacks three multipart calls that @tus/s3-store makes — ListParts (the offset of a
 * resumed upload), AbortMultipartUpload (termination) and ListMultipartUploads (the expiry sweep) —
 * so this helper answers them from s3rver's own part files, in S3's XML shapes. Everything else is
 * s3rver's own behaviour.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import S3rver from 's3rver';
import type { RawSettings } from '../../src/config.js';

/** A running s3rver. */
export interface S3Server {
  endpoint: string;
  bucket: string;
  /** The directory s3rver stores objects in. */
  dir: string;
  /** Strom settings for this server (`storage.kind=s3`), optionally under a key prefix. */
  settings(prefix?: string): RawSettings;
  stop(): Promise<void>;
}

interface KoaLikeContext {
  method: string;
  path: string;
  query: Record<string, string | string[] | undefined>;
  status: number;
  type: string;
  body: unknown;
}
type Middleware = (ctx: KoaLikeContext, next: () => Promise<void>) => Promise<void>;

const xmlEscape = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function noSuchUpload(ctx: KoaLikeContext, id: string): void {
  ctx.status = 404;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchUpload</Code><Message>The specified upload does not exist.</Message><UploadId>${xmlEscape(id)}</UploadId></Error>`;
}

/** ListParts, AbortMultipartUpload and ListMultipartUploads over s3rver's upload directories. */
function multipartExtras(uploadsDirOf: (bucket: string) => string): Middleware {
  return async (ctx, next) => {
    const m = /^\/([^/]+)(?:\/(.+))?$/.exec(ctx.path);
    if (!m) return next();
    const bucket = m[1]!;
    const key = m[2] === undefined ? undefined : decodeURIComponent(m[2]);
    const uploadId = typeof ctx.query.uploadId === 'string' ? ctx.query.uploadId : undefined;
    if (key !== undefined && uploadId !== undefined && ctx.query.partNumber === undefined && (ctx.method === 'GET' || ctx.method === 'DELETE')) {
      const dir = path.join(uploadsDirOf(bucket), uploadId);
      const stored = await readFile(path.join(dir, 'key'), 'utf8').catch(() => null);
      if (stored === null) return noSuchUpload(ctx, uploadId);
      if (ctx.method === 'DELETE') {
        await rm(dir, { recursive: true, force: true });
        ctx.status = 204;
        ctx.body = '';
        return;
      }
      const numbers = (await readdir(dir)).filter((n) => /^\d+$/.test(n)).map(Number).sort((a, b) => a - b);
      const parts = await Promise.all(numbers.map(async (n) => {
        const st = await stat(path.join(dir, String(n)));
        const md5 = (await readFile(path.join(dir, `${n}.md5`), 'utf8').catch(() => '')).trim();
        return `<Part><PartNumber>${n}</PartNumber><LastModified>${st.mtime.toISOString()}</LastModified><ETag>"${md5}"</ETag><Size>${st.size}</Size></Part>`;
      }));
      ctx.status = 200;
      ctx.type = 'application/xml';
      ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListPartsResult><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${uploadId}</UploadId>`
        + `<PartNumberMarker>0</PartNumberMarker><NextPartNumberMarker>${numbers.at(-1) ?? 0}</NextPartNumberMarker><MaxParts>10000</MaxParts><IsTruncated>false</IsTruncated>${parts.join('')}</ListPartsResult>`;
      return;
    }
    if (key === undefined && ctx.method === 'GET' && 'uploads' in ctx.query) {
      const root = uploadsDirOf(bucket);
      const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
      const uploads: string[] = [];
      for (const id of await readdir(root).catch(() => [] as string[])) {
        const k = await readFile(path.join(root, id, 'key'), 'utf8').catch(() => null);
        if (k === null || !k.startsWith(prefix)) continue;
        const st = await stat(path.join(root, id));
        uploads.push(`<Upload><Key>${xmlEscape(k)}</Key><UploadId>${id}</UploadId><Initiated>${st.birthtime.toISOString()}</Initiated></Upload>`);
      }
      ctx.status = 200;
      ctx.type = 'application/xml';
      ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult><Bucket>${xmlEscape(bucket)}</Bucket><IsTruncated>false</IsTruncated>${uploads.join('')}</ListMultipartUploadsResult>`;
      return;
    }
    return next();
  };
}

/**
 * Start a private s3rver with one bucket. Called at a file's top level it is stopped (and its
 * directory removed) after the file's tests; from inside a hook pass `{ stopAfterFile: false }`
 * and call `stop()` yourself (node:test would run an `after` registered there right away).
 */
export async function startS3(bucket = 'strom', o: { stopAfterFile?: boolean } = {}): Promise<S3Server> {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: bucket, configs: [] }] });
  const store = (server as unknown as { store: { getResourcePath(b: string, k: string | undefined, r: string): string } }).store;
  // In front of s3rver's router: Koa runs middleware in array order.
  (server as unknown as { middleware: Middleware[] }).middleware.unshift(multipartExtras((b) => store.getResourcePath(b, undefined, 'uploads')));
  const addr = (await server.run()) as { port: number };
  const endpoint = `http://127.0.0.1:${addr.port}`;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await server.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  if (o.stopAfterFile !== false) after(stop);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return {
    endpoint, bucket, dir, stop,
    settings: (prefix = '') => ({
      'storage.kind': 's3', 'storage.s3.endpoint': endpoint, 'storage.s3.bucket': bucket, 'storage.s3.region': 'us-east-1',
      'storage.s3.accessKeyId': 'S3RVER', 'storage.s3.secretAccessKey': 'S3RVER', 'storage.s3.forcePathStyle': true, 'storage.s3.prefix': prefix,
    }),
  };
}
