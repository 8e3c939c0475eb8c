#!/usr/bin/env node
/**
 * `npm test`: lint, type-check and build, then every test file, three files at a time.
 *
 * Most test files spend their time waiting on real clients and servers (ffmpeg publishing in real
 * time, Chromium playing, a PostgreSQL starting), not on the CPU: on a 2-core machine two files at
 * a time nearly halve the run, three take it from ~26 to ~18 minutes. Workers take files from a
 * queue: the first takes browser tests (test/e2e) while there are any, so two Chromiums never run
 * at once, then helps with the rest; the others take integration and unit tests, slowest kinds first. Each file runs in its own
 * `node --test` process and starts its own servers on random ports, so no two files share state.
 *
 * A file that fails is run once more at the end, alone on the machine: a few tests wait on real
 * clients against timers, and a machine loaded by several files at a time can starve them. A file that
 * passes alone still counts as passed, but the summary names it as flaky with its first failure,
 * so it gets fixed rather than forgotten; a file that fails twice fails the run.
 *
 * Output is each file's spec report, line by line, prefixed with its worker; a summary follows with
 * the failure details of every file that failed (the spec reporter's "failing tests" section).
 *   STROM_TEST_LANES=N  N workers (default 3; 1 = every file in turn, e.g. to rule out contention)
 *   node scripts/run-tests.mjs test/e2e/x.test.ts …   only those files
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';

const files = (dir) => readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => `${dir}/${f}`);
const NODE_TEST = ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-timeout=300000', '--test-force-exit'];
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

/** Run a command to its end, output passed through with a prefix; resolves to its exit code and the lines it printed. */
function run(name, cmd, args) {
  return new Promise((resolve) => {
    const started = Date.now();
    const lines = [];
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => {
        lines.push(line);
        process.stdout.write(`[${name}] ${line}\n`);
      });
    }
    child.on('close', (code, signal) => {
      const s = ((Date.now() - started) / 1000).toFixed(0);
      process.stdout.write(`[${name}] exit ${code ?? signal} after ${s} s: ${args.at(-1)}\n`);
      resolve({ code: code ?? 1, lines });
    });
  });
}

/** Steps one after another; the first failure ends the lane. */
async function lane(name, steps) {
  for (const [cmd, args] of steps) {
    if ((await run(name, cmd, args)).code !== 0) return false;
  }
  return true;
}

/**
 * The failing tests of a file's output, compact: each "✖ test" line of the spec reporter's
 * "failing tests" section with the first lines of its error, no stack frames (CI logs are read
 * from their tail).
 */
function failureDetails(lines, perTest = 3, max = 16) {
  const from = lines.findIndex((l) => l.startsWith('✖ failing tests'));
  const section = from >= 0 ? lines.slice(from + 1) : lines.slice(-max);
  const out = [];
  let left = 0;
  for (const l of section) {
    const text = l.trim();
    if (text.startsWith('✖')) {
      out.push(text);
      left = perTest;
    } else if (left > 0 && text !== '' && !text.startsWith('at ') && !text.startsWith('test at ')) {
      out.push(`  ${text}`);
      left -= 1;
    }
  }
  return out.length > max ? [...out.slice(0, max), `… ${out.length - max} more lines`] : out;
}

/** Workers over the test files (see the header); resolves to the files that failed (with details) and the test counts. */
async function testFiles(browser, rest, workers) {
  const failed = [];
  const counts = { tests: 0, pass: 0, fail: 0 };
  // Only the first worker runs browser files: two Chromiums at once would compete for the 2 cores.
  const take = (first) => (first && browser.length > 0 ? browser.shift() : rest.shift());
  const worker = async (name, first) => {
    for (let file = take(first); file !== undefined; file = take(first)) {
      const { code, lines } = await run(name, 'node', [...NODE_TEST, file]);
      for (const l of lines) {
        const m = /^ℹ (tests|pass|fail) (\d+)$/.exec(l);
        if (m) counts[m[1]] += Number(m[2]);
      }
      if (code !== 0) failed.push({ file, details: failureDetails(lines) });
    }
  };
  await Promise.all(Array.from({ length: workers }, (_, i) => worker(`w${i + 1}`, i === 0)));
  return { failed, counts };
}

const started = Date.now();
const only = process.argv.slice(2);
const LANES = Number(process.env.STROM_TEST_LANES ?? 3);
if (!Number.isInteger(LANES) || LANES < 1) throw new Error(`STROM_TEST_LANES expects a positive integer, got ${process.env.STROM_TEST_LANES}`);

// Static checks first, side by side: a type error fails fast, before minutes of tests.
const checks = await Promise.all([
  lane('lint', [[npx, ['eslint', '.']], ['node', ['scripts/check-layers.mjs']]]),
  lane('types', [[npx, ['tsc', '-p', 'tsconfig.check.json']]]),
]);
let ok = checks.every(Boolean) && (await lane('build', [[npx, ['tsc', '-p', 'tsconfig.json']], ['node', ['scripts/build-web.mjs']]]));
let summary = 'static checks or build failed';
if (ok) {
  const e2e = only.length > 0 ? only.filter((f) => f.includes('/e2e/')) : files('test/e2e');
  const rest = only.length > 0 ? only.filter((f) => !f.includes('/e2e/')) : [...files('test/integration'), ...files('test/unit')];
  const { failed, counts } = await testFiles(e2e, rest, LANES);
  const flaky = [];
  const failing = [];
  for (const f of failed) {
    process.stdout.write(`\n[rerun] ${f.file} failed; running it again alone\n`);
    const again = await run('rerun', 'node', [...NODE_TEST, f.file]);
    (again.code === 0 ? flaky : failing).push(again.code === 0 ? f : { file: f.file, details: failureDetails(again.lines) });
  }
  ok = failing.length === 0;
  const report = (title, list) => (list.length === 0 ? '' : `\n${title}:\n${list.map((f) => `  ${f.file}\n${f.details.map((l) => `    ${l}`).join('\n')}`).join('\n')}`);
  summary = `${counts.tests} tests, ${counts.pass} passed, ${counts.fail} failed`
    + report('FLAKY: failed with another file running, passed alone (fix these)', flaky)
    + report('failing files (failed twice)', failing);
}
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
process.stdout.write(`\n${ok ? 'all passed' : 'FAILED'} in ${minutes} min: ${summary}\n`);
process.exit(ok ? 0 : 1);
