#!/usr/bin/env node
/**
 * `npm test`: lint, type-check and build, then every test file, in two lanes at once.
 *
 * Most test files spend their time waiting on real clients and servers (ffmpeg publishing in real
 * time, Chromium playing, a PostgreSQL starting), not on the CPU, so two files at a time nearly
 * halve the run on a 2-core machine. The lanes keep the heavy kinds apart: browser tests (one
 * Chromium at a time) followed by unit tests in one lane, integration tests in the other; each lane
 * runs its files one at a time, as `--test-concurrency=1` always did. Every file starts its own
 * servers on random ports, so no two files share state.
 *
 * Output is each lane's spec report, line by line, prefixed with the lane's name; a summary follows.
 *   STROM_TEST_LANES=1  one lane, every file in turn (the old behaviour, e.g. to rule out contention)
 *   node scripts/run-tests.mjs test/e2e/x.test.ts …   only those files (one lane)
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';

const files = (dir) => readdirSync(dir).filter((f) => f.endsWith('.test.ts')).sort().map((f) => `${dir}/${f}`);
const NODE_TEST = ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=1', '--test-timeout=300000', '--test-force-exit'];

/** Run a command to its end, output passed through with a prefix; resolves to its exit code. */
function run(name, cmd, args) {
  return new Promise((resolve) => {
    const started = Date.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, FORCE_COLOR: '0' } });
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on('line', (line) => process.stdout.write(`[${name}] ${line}\n`));
    }
    child.on('close', (code, signal) => {
      const s = ((Date.now() - started) / 1000).toFixed(0);
      process.stdout.write(`[${name}] exit ${code ?? signal} after ${s} s\n`);
      resolve(code ?? 1);
    });
  });
}

/** Steps one after another; the first failure ends the lane. */
async function lane(name, steps) {
  for (const [cmd, args] of steps) {
    const code = await run(name, cmd, args);
    if (code !== 0) return { name, code };
  }
  return { name, code: 0 };
}

const started = Date.now();
const only = process.argv.slice(2);
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx';

// Static checks first: a type error fails fast, before minutes of tests.
const checks = await Promise.all([
  lane('lint', [[npx, ['eslint', '.']], ['node', ['scripts/check-layers.mjs']]]),
  lane('types', [[npx, ['tsc', '-p', 'tsconfig.check.json']]]),
]);
let results = checks;
if (checks.every((r) => r.code === 0)) {
  const build = await lane('build', [[npx, ['tsc', '-p', 'tsconfig.json']], ['node', ['scripts/build-web.mjs']]]);
  results = [...checks, build];
  if (build.code === 0) {
    const unit = files('test/unit'), integration = files('test/integration'), e2e = files('test/e2e');
    const lanes = only.length > 0 ? [['tests', only]]
      : process.env.STROM_TEST_LANES === '1' ? [['tests', [...unit, ...integration, ...e2e]]]
      : [['browser+unit', [...e2e, ...unit]], ['integration', integration]];
    results.push(...(await Promise.all(lanes.map(([name, list]) => lane(name, [['node', [...NODE_TEST, ...list]]])))));
  }
}
const failed = results.filter((r) => r.code !== 0);
const minutes = ((Date.now() - started) / 60_000).toFixed(1);
process.stdout.write(failed.length === 0 ? `\nall passed in ${minutes} min\n` : `\nFAILED: ${failed.map((r) => r.name).join(', ')} (${minutes} min)\n`);
process.exit(failed.length === 0 ? 0 : 1);
