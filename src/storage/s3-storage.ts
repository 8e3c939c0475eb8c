/**
 * Media storage in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, Cloudflare R2; tests run it
 * against s3rver) through the AWS SDK v3. Every key is stored under `storage.s3.prefix`.
 *
 * - Bounded: GET/HEAD/LIST requests hold a permit of `maxConcurrentGets` until their body is
 *   consumed or dropped, PUT/COPY/DELETE one of `maxConcurrentWrites`; the HTTP agent's sockets are
 *   bounded to match, so a burst of cache misses queues instead of opening sockets without end.
 * - Streams: `read` hands out the GetObject body (an IncomingMessage), so backpressure reaches the
 *   bucket's TCP connection; large writes go through `@aws-sdk/lib-storage` Upload in parts of
 *   `partBytes` with two parts in flight (memory bound: 2 × partBytes per write).
 * - Checksums: the SDK is told to compute and validate checksums only where S3 requires them
 *   (`WHEN_REQUIRED`); its newer default (CRC32 trailers in aws-chunked bodies) is refused by several
 *   S3-compatible servers.
 * - Publication: S3 has no rename, so `publish` uploads the directory under `staging/<…>/`, copies
 *   objects into place server-side in three waves — media, then media playlists, then the entry
 *   manifests (blob-storage.ts `publishRank`) — and deletes the staging prefix. A manifest is thus
 *   never visible before everything it names; any failure deletes what was copied and the staging
 *   prefix, so no partial asset stays visible.
 * - Errors: 404s are "not found" (null or OBJECT_NOT_FOUND); anything else — refused connection,
 *   timeout, 5xx after the SDK's retries, access denied — is STORAGE_UNAVAILABLE (503) naming the
 *   endpoint and bucket, never the credentials.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { readdir, stat as statFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type * as S3Sdk from '@aws-sdk/client-s3';
import type { GetObjectCommandOutput, S3Client, S3ClientConfig } from '@aws-sdk/client-s3';
import type * as S3Upload from '@aws-sdk/lib-storage';
import type { Config } from '../config.js';
import { optionalModule } from '../optional-module.js';
import { fail, isStromError } from '../errors.js';
import { contentTypeOf, publishRank, type BlobEntry, type BlobRange, type BlobStat, type BlobStorage, type WriteOptions } from './blob-storage.js';
import { forEachLimited, Semaphore } from './semaphore.js';
import { StorageMetrics } from './storage-metrics.js';

/** Objects up to this size are copied with one CopyObject; larger ones with UploadPartCopy (S3's limit). */
const MAX_SINGLE_COPY = 5 * 1024 ** 3;

type S3Settings = Config['storage']['s3'];

/** AWS SDK client settings for `storage.s3.*` (shared with the tus S3 store). */
export function s3ClientConfig(s3: S3Settings): S3ClientConfig {
  const agent = { keepAlive: true, maxSockets: s3.maxConcurrentGets + s3.maxConcurrentWrites };
  return {
    endpoint: s3.endpoint ?? undefined,
    region: s3.region,
    forcePathStyle: s3.forcePathStyle,
    credentials: s3.accessKeyId !== null && s3.secretAccessKey !== null ? { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } : undefined,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
    requestHandler: {
      // requestTimeout runs until the response head arrives, not while a body streams to a slow player.
      requestTimeout: s3.requestTimeoutMs,
      throwOnRequestTimeout: true,
      connectionTimeout: Math.min(5_000, s3.requestTimeoutMs),
      httpAgent: new http.Agent(agent),
      httpsAgent: new https.Agent(agent),
    },
  };
}

/** `storage.s3.prefix` as stored: '' or ending in exactly one '/'. */
export function normalizePrefix(prefix: string): string {
  const p = prefix.replace(/^\/+/, '').replace(/\/+$/, '');
  return p === '' ? '' : `${p}/`;
}

/** Is this SDK error a 404 (no such key / bucket object)? */
function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NoSuchKey' || e.name === 'NotFound' || e.$metadata?.httpStatusCode === 404;
}

/** Percent-encode a key for `x-amz-copy-source`, keeping the slashes. */
function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** Files below `dir`, relative paths with '/'. */
async function walk(dir: string, rel = ''): Promise<Array<{ rel: string; file: string; size: number }>> {
  const out: Array<{ rel: string; file: string; size: number }> = [];
  for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...(await walk(dir, r)));
    else if (e.isFile()) out.push({ rel: r, file: path.join(dir, r), size: (await statFile(path.join(dir, r))).size });
  }
  return out;
}

/** A bucket (and key prefix) as media storage. */
export class S3Storage implements BlobStorage {
  readonly kind = 's3' as const;
  readonly where: string;
  readonly metrics = new StorageMetrics('s3');
  /** The SDK client (tests inject faults through its middleware stack). */
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix of every object, '' or ending in '/'. */
  readonly prefix: string;
  private readonly gets: Semaphore;
  private readonly writes: Semaphore;
  private readonly partBytes: number;
  /** The SDK's commands, loaded with the first bucket (see optional-module.ts). */
  private readonly sdk: typeof S3Sdk;

  constructor(s3: S3Settings) {
    if (s3.bucket === null) throw fail('CONFIG_INVALID', 'storage.s3.bucket', null, 'storage.kind=s3 needs a bucket');
    this.bucket = s3.bucket;
    this.prefix = normalizePrefix(s3.prefix);
    this.where = `s3://${s3.bucket}/${this.prefix} at ${s3.endpoint ?? `AWS ${s3.region}`}`;
    this.sdk = optionalModule<typeof S3Sdk>('@aws-sdk/client-s3');
    this.client = new this.sdk.S3Client(s3ClientConfig(s3));
    this.gets = new Semaphore(s3.maxConcurrentGets);
    this.writes = new Semaphore(s3.maxConcurrentWrites);
    this.partBytes = s3.partBytes;
  }

  /** The bucket key of a storage key. */
  keyOf(key: string): string {
    return this.prefix + key;
  }

  localPath(): null {
    return null;
  }

  private unavailable(op: string, err: unknown): Error {
    if (isStromError(err)) return err;
    const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
    const status = e.$metadata?.httpStatusCode;
    return fail('STORAGE_UNAVAILABLE', this.where, op, `${e.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${e.message ?? String(err)}`);
  }

  private static statOf(o: { ContentLength?: number; ETag?: string; LastModified?: Date }, size = o.ContentLength ?? 0): BlobStat {
    return { size, etag: o.ETag ?? `"${size.toString(16)}"`, mtimeMs: o.LastModified?.getTime() ?? 0 };
  }

  stat(key: string): Promise<BlobStat | null> {
    return this.metrics.time('stat', () => this.gets.run(async () => {
      try {
        return S3Storage.statOf(await this.client.send(new this.sdk.HeadObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) })));
      } catch (err) {
        if (isNotFound(err)) return null;
        throw this.unavailable(`stat ${key}`, err);
      }
    }));
  }

  /** GetObject holding a GET permit until the body ends or is dropped. */
  private async get(key: string, range: string | undefined, op: 'get' | 'get_range'): Promise<GetObjectCommandOutput & { Body: Readable }> {
    const release = await this.gets.acquire();
    const t0 = performance.now();
    let out: GetObjectCommandOutput;
    try {
      out = await this.client.send(new this.sdk.GetObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key), Range: range }));
    } catch (err) {
      release();
      if (isNotFound(err)) {
        this.metrics.record(op, t0, 'not_found');
        throw fail('OBJECT_NOT_FOUND', key);
      }
      this.metrics.record(op, t0, 'error');
      throw this.unavailable(`read ${key}`, err);
    }
    this.metrics.record(op, t0, 'ok');
    const body = out.Body as Readable | undefined;
    if (body === undefined) {
      release();
      throw this.unavailable(`read ${key}`, new Error('response without a body'));
    }
    body.once('close', release);
    body.once('end', release);
    body.once('error', release);
    return out as GetObjectCommandOutput & { Body: Readable };
  }

  async read(key: string, range?: BlobRange): Promise<Readable> {
    return (await this.get(key, range ? `bytes=${range.start}-${range.end}` : undefined, range ? 'get_range' : 'get')).Body;
  }

  async readAll(key: string): Promise<Buffer> {
    const out = await this.get(key, undefined, 'get');
    return this.collect(key, out.Body, out.ContentLength);
  }

  /** Read a body into one Buffer (preallocated when the length is known). */
  private async collect(key: string, body: Readable, length: number | undefined): Promise<Buffer> {
    try {
      if (length === undefined) {
        const chunks: Buffer[] = [];
        for await (const c of body) chunks.push(c as Buffer);
        return Buffer.concat(chunks);
      }
      const buf = Buffer.allocUnsafe(length);
      let at = 0;
      for await (const c of body) {
        const chunk = c as Buffer;
        if (at + chunk.length > length) throw new Error(`body longer than its Content-Length ${length}`);
        chunk.copy(buf, at);
        at += chunk.length;
      }
      if (at !== length) throw new Error(`body ended after ${at} of ${length} bytes`);
      return buf;
    } catch (err) {
      body.destroy();
      throw this.unavailable(`read ${key}`, err);
    }
  }

  async fetchSmall(key: string, maxBytes: number): Promise<{ stat: BlobStat; body: Buffer | null } | null> {
    if (maxBytes <= 0) {
      const st = await this.stat(key);
      return st === null ? null : { stat: st, body: null };
    }
    let out;
    try {
      out = await this.get(key, `bytes=0-${maxBytes - 1}`, 'get');
    } catch (err) {
      if (isStromError(err, 'OBJECT_NOT_FOUND')) return null;
      // 416 InvalidRange: the object is empty (a range of an empty object is unsatisfiable).
      if (isStromError(err) && / \(HTTP 416\)/.test(err.message)) {
        const st = await this.stat(key);
        return st === null ? null : { stat: st, body: st.size === 0 ? Buffer.alloc(0) : null };
      }
      throw err;
    }
    // 206 names the total after the slash; a server that ignores Range answers 200 with the whole length.
    const total = out.ContentRange ? Number(out.ContentRange.slice(out.ContentRange.lastIndexOf('/') + 1)) : (out.ContentLength ?? 0);
    const st = S3Storage.statOf(out, total);
    if (total > maxBytes || total === 0) {
      out.Body.destroy(); // too large for memory (the caller streams ranges instead), or empty
      return { stat: st, body: total === 0 ? Buffer.alloc(0) : null };
    }
    return { stat: st, body: await this.collect(key, out.Body, out.ContentLength) };
  }

  write(key: string, body: Buffer | string | Readable, opts: WriteOptions = {}): Promise<void> {
    const contentType = opts.contentType ?? contentTypeOf(key);
    return this.metrics.time('put', () => this.writes.run(async () => {
      try {
        if (typeof body === 'string' || Buffer.isBuffer(body)) {
          await this.client.send(new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key), Body: body, ContentType: contentType }));
        } else {
          await new (optionalModule<typeof S3Upload>('@aws-sdk/lib-storage').Upload)({ client: this.client, params: { Bucket: this.bucket, Key: this.keyOf(key), Body: body, ContentType: contentType }, partSize: this.partBytes, queueSize: 2 }).done();
        }
      } catch (err) {
        throw this.unavailable(`write ${key}`, err);
      }
    }));
  }

  async writeFile(key: string, file: string, opts: WriteOptions = {}): Promise<void> {
    const { size } = await statFile(file);
    if (size <= this.partBytes) {
      // One PUT with a known length: no multipart bookkeeping for segments and playlists.
      const contentType = opts.contentType ?? contentTypeOf(key);
      return this.metrics.time('put', () => this.writes.run(async () => {
        try {
          await this.client.send(new this.sdk.PutObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key), Body: createReadStream(file), ContentLength: size, ContentType: contentType }));
        } catch (err) {
          throw this.unavailable(`write ${key}`, err);
        }
      }));
    }
    return this.write(key, createReadStream(file), opts);
  }

  download(key: string, file: string): Promise<void> {
    return this.metrics.time('download', async () => {
      const body = await this.read(key);
      try {
        await pipeline(body, createWriteStream(file));
      } catch (err) {
        throw this.unavailable(`download ${key}`, err);
      }
    });
  }

  async copy(from: string, to: string): Promise<void> {
    const st = await this.stat(from);
    if (st === null) throw fail('OBJECT_NOT_FOUND', from);
    await this.copyKnown(from, to, st.size);
  }

  /** Server-side copy of an object whose size is known. */
  private copyKnown(from: string, to: string, size: number): Promise<void> {
    return this.metrics.time('copy', () => this.writes.run(async () => {
      try {
        if (size <= MAX_SINGLE_COPY) {
          await this.client.send(new this.sdk.CopyObjectCommand({ Bucket: this.bucket, Key: this.keyOf(to), CopySource: copySource(this.bucket, this.keyOf(from)) }));
          return;
        }
        await this.multipartCopy(from, to, size);
      } catch (err) {
        if (isNotFound(err)) throw fail('OBJECT_NOT_FOUND', from);
        throw this.unavailable(`copy ${from} to ${to}`, err);
      }
    }));
  }

  private async multipartCopy(from: string, to: string, size: number): Promise<void> {
    const Key = this.keyOf(to);
    const { UploadId } = await this.client.send(new this.sdk.CreateMultipartUploadCommand({ Bucket: this.bucket, Key, ContentType: contentTypeOf(to) }));
    try {
      const part = Math.max(this.partBytes, Math.ceil(size / 10_000), 64 * 1024 * 1024);
      const parts: Array<{ ETag?: string; PartNumber: number }> = [];
      for (let start = 0, n = 1; start < size; start += part, n++) {
        const end = Math.min(size, start + part) - 1;
        const r = await this.client.send(new this.sdk.UploadPartCopyCommand({ Bucket: this.bucket, Key, UploadId, PartNumber: n, CopySource: copySource(this.bucket, this.keyOf(from)), CopySourceRange: `bytes=${start}-${end}` }));
        parts.push({ ETag: r.CopyPartResult?.ETag, PartNumber: n });
      }
      await this.client.send(new this.sdk.CompleteMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId, MultipartUpload: { Parts: parts } }));
    } catch (err) {
      await this.client.send(new this.sdk.AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId })).catch(() => undefined);
      throw err;
    }
  }

  list(prefix: string): Promise<BlobEntry[]> {
    return this.metrics.time('list', () => this.gets.run(async () => {
      const out: BlobEntry[] = [];
      let token: string | undefined;
      try {
        do {
          const page = await this.client.send(new this.sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.keyOf(prefix), ContinuationToken: token }));
          for (const o of page.Contents ?? []) if (o.Key !== undefined) out.push({ key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, etag: o.ETag, mtimeMs: o.LastModified?.getTime() });
          token = page.IsTruncated ? page.NextContinuationToken : undefined;
        } while (token !== undefined);
      } catch (err) {
        throw this.unavailable(`list ${prefix}`, err);
      }
      return out;
    }));
  }

  delete(key: string): Promise<void> {
    return this.metrics.time('delete', () => this.writes.run(async () => {
      try {
        await this.client.send(new this.sdk.DeleteObjectCommand({ Bucket: this.bucket, Key: this.keyOf(key) }));
      } catch (err) {
        if (!isNotFound(err)) throw this.unavailable(`delete ${key}`, err);
      }
    }));
  }

  async deletePrefix(prefix: string): Promise<number> {
    const keys = (await this.list(prefix)).map((e) => e.key);
    for (let i = 0; i < keys.length; i += 1000) await this.deleteBatch(keys.slice(i, i + 1000));
    return keys.length;
  }

  /** DeleteObjects, or one DeleteObject each where a server refuses the batch call. */
  private deleteBatch(keys: string[]): Promise<void> {
    return this.metrics.time('delete', async () => {
      let batched = true;
      try {
        const r = await this.writes.run(() => this.client.send(new this.sdk.DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: keys.map((k) => ({ Key: this.keyOf(k) })), Quiet: true } })));
        const failed = (r.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (failed.length > 0) throw this.unavailable(`delete ${failed[0]!.Key}`, new Error(`${failed[0]!.Code}: ${failed[0]!.Message}`));
      } catch (err) {
        const name = (err as { name?: string }).name ?? '';
        if (isStromError(err) || !/NotImplemented|MissingContentMD5|InvalidRequest|MethodNotAllowed/.test(name)) throw this.unavailable('delete objects', err);
        batched = false;
      }
      if (!batched) await forEachLimited(keys, this.writes.limit, (k) => this.delete(k));
    });
  }

  publish(localDir: string, prefix: string): Promise<void> {
    const dest = prefix.endsWith('/') ? prefix : `${prefix}/`;
    return this.metrics.time('publish', async () => {
      if (await this.any(dest)) throw fail('STORAGE_EXISTS', this.where, dest);
      let files;
      try {
        files = await walk(localDir);
      } catch (err) {
        throw this.unavailable(`publish ${dest}`, err);
      }
      const staging = `staging/${dest.slice(0, -1).replace(/\//g, '_')}-${randomBytes(6).toString('hex')}/`;
      const limit = this.writes.limit;
      try {
        await forEachLimited(files, limit, (f) => this.writeFile(staging + f.rel, f.file));
        for (const rank of [0, 1, 2] as const) {
          await forEachLimited(files.filter((f) => publishRank(f.rel) === rank), limit, (f) => this.copyKnown(staging + f.rel, dest + f.rel, f.size));
        }
      } catch (err) {
        await this.deletePrefix(dest).catch(() => 0); // nothing partial stays visible
        throw err;
      } finally {
        await this.deletePrefix(staging).catch(() => 0);
      }
    });
  }

  /** Is there any object under `prefix`? (one LIST page; no MaxKeys=1, which s3rver cannot answer) */
  private any(prefix: string): Promise<boolean> {
    return this.gets.run(async () => {
      try {
        const page = await this.client.send(new this.sdk.ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.keyOf(prefix) }));
        return (page.KeyCount ?? page.Contents?.length ?? 0) > 0;
      } catch (err) {
        throw this.unavailable(`list ${prefix}`, err);
      }
    });
  }

  close(): void {
    this.client.destroy();
  }
}
