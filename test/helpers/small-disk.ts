/**
 * A real small disk for fault tests: a tmpfs of a few MiB mounted at a new directory, so writes
 * fail with the kernel's own ENOSPC. Mounting needs root; elsewhere the test is skipped with the
 * reason.
 */
import type { TestContext } from 'node:test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A tmpfs of `mb` MiB mounted at a new directory (unmounted after `t`), or null where mounting is refused. */
export function smallDisk(t: TestContext, mb: number): string | null {
  const dir = mkdtempSync(path.join(tmpdir(), 'strom-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    t.skip(`cannot mount a tmpfs here (needs root): ${(err as Error).message.split('\n')[0]}`);
    return null;
  }
  t.after(() => {
    execFileSync('umount', ['-l', dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}
