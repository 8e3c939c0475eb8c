/**
 * `forEachStorage(cases)`: run the same test cases against both media storages — files under a
 * temporary data directory and a bucket on a private s3rver (test/helpers/s3.ts) reached through
 * the real AWS SDK — so the two implementations keep one contract.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe } from 'node:test';
import { testConfig, type RawSettings } from '../../src/config.js';
import { createStorage, type InstrumentedStorage } from '../../src/storage/create-storage.js';
import { startS3, type S3Server } from './s3.js';

/** What a case gets: the storage under test, a scratch directory, and the s3rver when kind is s3. */
export interface StorageUnderTest {
  kind: 'fs' | 's3';
  storage: InstrumentedStorage;
  /** A local scratch directory (removed after the file). */
  scratch: string;
  s3: S3Server | null;
}

/** Define `cases` once for fs and once for s3 (a describe block each); `extra` settings apply to both. */
export function forEachStorage(cases: (t: () => StorageUnderTest) => void, extra: RawSettings = {}): void {
  for (const kind of ['fs', 's3'] as const) {
    describe(`${kind} storage`, () => {
      let current: StorageUnderTest | null = null;
      before(async () => {
        const scratch = mkdtempSync(path.join(tmpdir(), `strom-storage-${kind}-`));
        const s3 = kind === 's3' ? await startS3('strom', { stopAfterFile: false }) : null;
        const config = testConfig({ dataDir: path.join(scratch, 'data'), ...(s3 ? s3.settings('contract/') : {}), ...extra });
        current = { kind, storage: createStorage(config), scratch, s3 };
      });
      after(async () => {
        current?.storage.close();
        await current?.s3?.stop();
        if (current) rmSync(current.scratch, { recursive: true, force: true });
      });
      cases(() => {
        if (current === null) throw new Error('storage not started yet');
        return current;
      });
    });
  }
}
