/**
 * Media storage on the local file system: keys are paths under the data directory, exactly the
 * layout of docs/STORAGE.md. Writes go to a dot-file beside the target and are renamed into place
 * (rename(2) is atomic within a file system), and `publish` renames a finished directory to its
 * asset folder in one step — a reader sees the whole asset or nothing. This is the default storage:
 * the delivery origin reads these files in place (file-catalog.ts keeps its own stat/read path for
 * speed) and ffmpeg works on them without copies.
 */
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { copyFile, cp, mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fail, isStromError } from '../errors.js';
import type { BlobEntry, BlobRange, BlobStat, BlobStorage } from './blob-storage.js';
import { StorageMetrics } from './storage-metrics.js';

/** Same strong validator as the delivery catalog's: size and mtime (ns resolution kept). */
export function fileEtag(size: number, mtimeMs: number): string {
  return `"${size.toString(16)}-${Math.round(mtimeMs * 1000).toString(16)}"`;
}

const isMissing = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR';

/** Files under one root directory. */
export class FsStorage implements BlobStorage {
  readonly kind = 'fs' as const;
  readonly where: string;
  readonly metrics = new StorageMetrics('fs');

  /** @param root the data directory. */
  constructor(readonly root: string) {
    this.where = root;
  }

  localPath(key: string): string {
    if (key.split('/').includes('..')) throw fail('BAD_PATH', key, 'storage keys never contain ..');
    return path.join(this.root, key);
  }

  private unavailable(op: string, err: unknown): Error {
    if (isStromError(err)) return err;
    return fail('STORAGE_UNAVAILABLE', this.where, op, (err as Error).message);
  }

  stat(key: string): Promise<BlobStat | null> {
    return this.metrics.time('stat', async () => {
      try {
        const st = await stat(this.localPath(key));
        if (!st.isFile()) return null;
        return { size: st.size, etag: fileEtag(st.size, st.mtimeMs), mtimeMs: st.mtimeMs };
      } catch (err) {
        if (isMissing(err)) return null;
        throw this.unavailable(`stat ${key}`, err);
      }
    });
  }

  read(key: string, range?: BlobRange): Promise<Readable> {
    return this.metrics.time(range ? 'get_range' : 'get', async () => {
      try {
        const fh = await open(this.localPath(key), 'r');
        return fh.createReadStream(range ? { start: range.start, end: range.end } : {});
      } catch (err) {
        if (isMissing(err)) throw fail('OBJECT_NOT_FOUND', key);
        throw this.unavailable(`read ${key}`, err);
      }
    });
  }

  readAll(key: string): Promise<Buffer> {
    return this.metrics.time('get', async () => {
      try {
        return await readFile(this.localPath(key));
      } catch (err) {
        if (isMissing(err)) throw fail('OBJECT_NOT_FOUND', key);
        throw this.unavailable(`read ${key}`, err);
      }
    });
  }

  async fetchSmall(key: string, maxBytes: number): Promise<{ stat: BlobStat; body: Buffer | null } | null> {
    const st = await this.stat(key);
    if (st === null) return null;
    if (st.size > maxBytes) return { stat: st, body: null };
    const body = await this.readAll(key).catch((err: unknown) => (isStromError(err, 'OBJECT_NOT_FOUND') ? null : Promise.reject(err)));
    if (body === null || body.length !== st.size) return body === null ? null : { stat: st, body: null }; // changed meanwhile
    return { stat: st, body };
  }

  /** A dot-file beside `file` (delivery never serves dot-files) that is renamed over it. */
  private partOf(file: string): string {
    return path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(4).toString('hex')}.part`);
  }

  private async place(key: string, op: string, fill: (part: string) => Promise<void>): Promise<void> {
    const file = this.localPath(key);
    const part = this.partOf(file);
    try {
      await mkdir(path.dirname(file), { recursive: true });
      await fill(part);
      await rename(part, file);
    } catch (err) {
      await rm(part, { force: true });
      if (isMissing(err) && op.startsWith('copy')) throw fail('OBJECT_NOT_FOUND', op.slice(5));
      throw this.unavailable(op, err);
    }
  }

  write(key: string, body: Buffer | string | Readable): Promise<void> {
    return this.metrics.time('put', () => this.place(key, `write ${key}`, async (part) => {
      if (body instanceof Readable) await pipeline(body, createWriteStream(part));
      else await writeFile(part, body);
    }));
  }

  writeFile(key: string, file: string): Promise<void> {
    return this.metrics.time('put', () => this.place(key, `write ${key}`, (part) => copyFile(file, part)));
  }

  download(key: string, file: string): Promise<void> {
    return this.metrics.time('download', async () => {
      try {
        await copyFile(this.localPath(key), file);
      } catch (err) {
        if (isMissing(err)) throw fail('OBJECT_NOT_FOUND', key);
        throw this.unavailable(`download ${key}`, err);
      }
    });
  }

  copy(from: string, to: string): Promise<void> {
    return this.metrics.time('copy', () => this.place(to, `copy ${from}`, (part) => copyFile(this.localPath(from), part)));
  }

  list(prefix: string): Promise<BlobEntry[]> {
    return this.metrics.time('list', async () => {
      const slash = prefix.lastIndexOf('/');
      const base = slash < 0 ? '' : prefix.slice(0, slash);
      const out: BlobEntry[] = [];
      const walk = async (rel: string): Promise<void> => {
        let entries;
        try {
          entries = await readdir(this.localPath(rel), { withFileTypes: true });
        } catch (err) {
          if (isMissing(err)) return;
          throw this.unavailable(`list ${prefix}`, err);
        }
        for (const e of entries) {
          const key = rel === '' ? e.name : `${rel}/${e.name}`;
          if (e.isDirectory()) {
            if (key.startsWith(prefix) || prefix.startsWith(`${key}/`)) await walk(key);
          } else if (e.isFile() && key.startsWith(prefix)) {
            const st = await stat(this.localPath(key));
            out.push({ key, size: st.size, mtimeMs: st.mtimeMs });
          }
        }
      };
      await walk(base);
      return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    });
  }

  delete(key: string): Promise<void> {
    return this.metrics.time('delete', async () => {
      try {
        await unlink(this.localPath(key));
      } catch (err) {
        if (!isMissing(err)) throw this.unavailable(`delete ${key}`, err);
      }
    });
  }

  async deletePrefix(prefix: string): Promise<number> {
    const found = await this.list(prefix);
    return this.metrics.time('delete', async () => {
      try {
        if (prefix.endsWith('/')) await rm(this.localPath(prefix.slice(0, -1)), { recursive: true, force: true });
        else for (const e of found) await rm(this.localPath(e.key), { force: true });
      } catch (err) {
        throw this.unavailable(`delete ${prefix}`, err);
      }
      return found.length;
    });
  }

  publish(localDir: string, prefix: string): Promise<void> {
    return this.metrics.time('publish', async () => {
      const dest = this.localPath(prefix.replace(/\/$/, ''));
      try {
        await mkdir(path.dirname(dest), { recursive: true });
        await rmdir(dest).catch((err: NodeJS.ErrnoException) => {
          // An empty folder may be replaced; one with anything in it is somebody's asset.
          if (err.code === 'ENOTEMPTY' || err.code === 'EEXIST') throw fail('STORAGE_EXISTS', this.where, prefix);
        });
        try {
          await rename(localDir, dest);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
          // Another file system: copy beside the target, then one rename.
          const part = `${path.dirname(dest)}/.${path.basename(dest)}.${randomBytes(4).toString('hex')}.part`;
          try {
            await cp(localDir, part, { recursive: true });
            await rename(part, dest);
          } finally {
            await rm(part, { recursive: true, force: true });
          }
          await rm(localDir, { recursive: true, force: true });
        }
      } catch (err) {
        throw this.unavailable(`publish ${prefix}`, err);
      }
    });
  }

  close(): void {}
}
