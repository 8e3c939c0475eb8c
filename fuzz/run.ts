/**
 * `npm run fuzz -- <target> [--seconds N] [--seed S]` or `npm run fuzz -- --all --seconds N`:
 * coverage-guided fuzzing of Strom's parsers (docs/RELIABILITY.md "Fuzzing"). Prints one line per
 * target (executions, executions/second, corpus, blocks, findings) and saves each finding under
 * fuzz/findings/<target>/. Exits 1 when anything was found.
 */
import { loadCorpus, saveFinding } from './engine/corpus.js';
import { startCoverage } from './engine/coverage.js';
import { fuzz } from './engine/loop.js';

// Coverage first: V8 only tracks functions compiled after it starts.
startCoverage();
const { targetNamed, targets } = await import('./targets/index.js');

const args = process.argv.slice(2);
const opt = (name: string, dflt: number): number => {
  const i = args.indexOf(name);
  return i >= 0 ? Number(args[i + 1]) : dflt;
};
const seconds = opt('--seconds', 20);
const seed = opt('--seed', 0x5eed);
const names = args.filter((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
const chosen = args.includes('--all') ? targets : names.map((n) => {
  const t = targetNamed(n);
  if (!t) {
    process.stderr.write(`unknown target ${JSON.stringify(n)}; targets: ${targets.map((x) => x.name).join(', ')}\n`);
    process.exit(2);
  }
  return t;
});
if (chosen.length === 0 || !(seconds > 0)) {
  process.stderr.write(`usage: npm run fuzz -- <target>|--all [--seconds N] [--seed S]\ntargets: ${targets.map((t) => t.name).join(', ')}\n`);
  process.exit(2);
}

let found = 0;
process.stdout.write('| target | seconds | executions | exec/s | seeds | corpus | blocks | findings |\n|---|---|---|---|---|---|---|---|\n');
for (const t of chosen) {
  const s = fuzz(t, loadCorpus(t.name), { seconds, seed });
  process.stdout.write(`| ${t.name} | ${s.seconds.toFixed(1)} | ${s.execs} | ${s.execsPerSecond} | ${s.seeds} | ${s.corpus} | ${s.blocks} | ${s.findings.length} |\n`);
  for (const f of s.findings) process.stdout.write(`  finding ${saveFinding(t.name, f)}: ${f.error}\n`);
  found += s.findings.length;
}
process.exitCode = found > 0 ? 1 : 0;
