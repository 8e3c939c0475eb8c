/**
 * Every fuzz target on its checked-in corpus plus a short coverage-guided mutation run (2 s each,
 * ~30 s in all, fixed seed so a failure reproduces). `npm run fuzz -- --all --seconds 20` is the
 * full run (docs/RELIABILITY.md "Fuzzing"). A failure prints the finding; its input is saved under
 * fuzz/findings/<target>/ to become a regression test and a seed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCoverage } from '../../fuzz/engine/coverage.js';
import { loadCorpus, saveFinding } from '../../fuzz/engine/corpus.js';
import { fuzz } from '../../fuzz/engine/loop.js';

// V8 only tracks functions compiled after coverage starts: start it before loading the parsers.
startCoverage();
const { targets } = await import('../../fuzz/targets/index.js');

const SECONDS = 2;

for (const t of targets) {
  test(`fuzz ${t.name}: corpus and ${SECONDS} s of mutations keep its invariants`, () => {
    const seeds = loadCorpus(t.name);
    assert.ok(seeds.length >= 1, `fuzz/corpus/${t.name}/ has no seeds`);
    const s = fuzz(t, seeds, { seconds: SECONDS, seed: 0x5eed, maxFindings: 1 });
    const found = s.findings.map((f) => `${saveFinding(t.name, f)}: ${f.error}`);
    assert.deepEqual(found, [], `${t.checks}`);
    assert.ok(s.execs > seeds.length, 'the mutation loop did not run');
    assert.ok(s.blocks > 0, 'no coverage was recorded for the code under test');
  });
}
