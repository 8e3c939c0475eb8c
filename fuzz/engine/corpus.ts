/**
 * The checked-in seed corpus (fuzz/corpus/<target>/*) and where findings are written
 * (fuzz/findings/<target>/<id>, not checked in: a finding becomes a regression test and a seed).
 */
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Finding } from './loop.js';

/** The fuzz/ folder. */
export const FUZZ_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Seeds of `target`, sorted by file name; none when the folder is missing. */
export function loadCorpus(target: string): Buffer[] {
  const dir = path.join(FUZZ_DIR, 'corpus', target);
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    return [];
  }
  return names.map((n) => readFileSync(path.join(dir, n)));
}

/** Writes a finding's input (and its error beside it); returns the input's path. */
export function saveFinding(target: string, f: Finding): string {
  const dir = path.join(FUZZ_DIR, 'findings', target);
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, f.id);
  writeFileSync(file, f.input);
  writeFileSync(`${file}.txt`, `${f.error}\n`);
  return file;
}
