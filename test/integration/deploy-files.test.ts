/**
 * The production start files in deploy/ agree with the server they start. No Docker or systemd
 * here, so the files are parsed and their commands run for real:
 * - systemd unit: ExecStart is `node …/bin/strom.js serve` (never npx/npm exec, which does not pass
 *   SIGTERM on), SIGTERM to the main process, TimeoutStopSec above `strom serve`'s stop watchdog
 *   computed from the shipped config and the defaults, sandboxing with the data dir writable;
 * - Dockerfile: EXPOSE = the default HTTP, RTMP and WebRTC UDP ports, exec-form CMD
 *   `node bin/strom.js serve`, a non-root USER, a HEALTHCHECK on /readyz, only real STROM_* settings,
 *   the runtime stage holding what `node bin/strom.js` needs; .dockerignore keeps the sources in;
 * - both commands started as the unit and the image start them (compiled dist/, a temp data dir,
 *   free ports), ready on /readyz (the image's HEALTHCHECK command itself passes), then SIGTERM:
 *   exit 0 within the watchdog, the ports released and no child process left behind.
 */
import { before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { envName, loadConfig, resolveConfig, settings, type Config } from '../../src/config.js';
import { cleanEnv, ensureDist, refused } from '../helpers/strom-process.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const UNIT = path.join(root, 'deploy', 'systemd', 'strom.service');
const UNIT_CONFIG = path.join(root, 'deploy', 'systemd', 'strom.json');
const DOCKERFILE = path.join(root, 'deploy', 'Dockerfile');
const DOCKERIGNORE = path.join(root, '.dockerignore');

// ------------------------------------------------------------------ the stop watchdog of `strom serve`

/** `strom serve`'s stop watchdog (src/cli/serve.ts: limitMs = shutdownMs × k + c), read from the source. */
function watchdogMs(config: Config): number {
  const src = readFileSync(path.join(root, 'src', 'cli', 'serve.ts'), 'utf8');
  const m = /limitMs = config\.timeouts\.shutdownMs \* (\d+) \+ ([\d_]+);/.exec(src);
  assert.ok(m, 'src/cli/serve.ts: the stop watchdog formula changed; update deploy/ and this test');
  return config.timeouts.shutdownMs * Number(m[1]) + Number(m[2]!.replace(/_/g, ''));
}

// ------------------------------------------------------------------ systemd unit

/** `[Section]` → key → values (a key may repeat). */
function parseUnit(text: string): Map<string, Map<string, string[]>> {
  const out = new Map<string, Map<string, string[]>>();
  let section: Map<string, string[]> | null = null;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const s = /^\[(\w+)\]$/.exec(line);
    if (s) {
      section = new Map();
      out.set(s[1]!, section);
      continue;
    }
    assert.ok(section, `unit line outside a section: ${line}`);
    const eq = line.indexOf('=');
    assert.ok(eq > 0, `unit line without =: ${line}`);
    const key = line.slice(0, eq).trim();
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()]);
  }
  return out;
}

/** A systemd time span ("40s", "40", "1min 30s", "500ms") in milliseconds. */
function timeSpanMs(v: string): number {
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const unit: Record<string, number> = { ms: 1, s: 1000, sec: 1000, m: 60_000, min: 60_000, h: 3_600_000, hr: 3_600_000 };
  let ms = 0;
  const rest = v.replace(/(\d+)\s*(ms|sec|s|min|m|hr|h)\b/g, (_, n: string, u: string) => {
    ms += Number(n) * unit[u]!;
    return '';
  });
  assert.equal(rest.trim(), '', `time span ${v}`);
  return ms;
}

const unit = parseUnit(readFileSync(UNIT, 'utf8'));
const service = unit.get('Service')!;
const one = (key: string): string => {
  const v = service.get(key);
  assert.ok(v && v.length === 1, `[Service] ${key}= set once`);
  return v[0]!;
};

// ------------------------------------------------------------------ Dockerfile

interface Instruction {
  op: string;
  args: string;
  stage: number;
}

/** Instructions with continuation lines joined and comments dropped; `stage` counts FROMs. */
function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  let stage = -1;
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (line.startsWith('#')) continue; // a comment inside a continued instruction
    if (line.endsWith('\\')) {
      pending += line.slice(0, -1) + ' ';
      continue;
    }
    const full = (pending + line).trim();
    pending = '';
    const m = /^(\w+)\s+([\s\S]*)$/.exec(full);
    assert.ok(m, `Dockerfile line: ${full}`);
    const op = m[1]!.toUpperCase();
    if (op === 'FROM') stage++;
    out.push({ op, args: m[2]!.trim(), stage });
  }
  return out;
}

/** The JSON array of an exec-form instruction (after HEALTHCHECK's options). */
function execForm(args: string, what: string): string[] {
  assert.match(args, /^\[/, `${what} is in exec form (a JSON array), so no shell sits between Docker and node`);
  const arr = JSON.parse(args) as unknown;
  assert.ok(Array.isArray(arr) && arr.every((x) => typeof x === 'string'), `${what}: an array of strings`);
  return arr as string[];
}

/** `ENV a=1 b=2` (and the legacy `ENV a 1`) of every stage's instructions given. */
function envOf(instructions: Instruction[]): Record<string, string> {
  const env: Record<string, string> = {};
  for (const i of instructions.filter((x) => x.op === 'ENV')) {
    const pairs = [...i.args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)];
    if (pairs.length === 0) {
      const m = /^(\S+)\s+(.*)$/.exec(i.args);
      assert.ok(m, `ENV ${i.args}`);
      env[m[1]!] = m[2]!;
    }
    for (const [, k, v] of pairs) env[k!] = v!.startsWith('"') ? (JSON.parse(v!) as string) : v!;
  }
  return env;
}

const docker = parseDockerfile(readFileSync(DOCKERFILE, 'utf8'));
const finalStage = Math.max(...docker.map((i) => i.stage));
const runtime = docker.filter((i) => i.stage === finalStage);
const last = (op: string): Instruction => {
  const all = runtime.filter((i) => i.op === op);
  assert.ok(all.length > 0, `the runtime stage has ${op}`);
  return all.at(-1)!;
};

// ------------------------------------------------------------------ a production start

/** Pids of a process's children (Linux /proc; null where the kernel does not list them). */
function childPids(pid: number): number[] | null {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Run a command to completion: its exit code. */
function run(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<number | null> {
  return new Promise((resolve) => {
    execFile(file, args, { env, timeout: 20_000, killSignal: 'SIGKILL' }, (err) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      resolve(typeof code === 'number' ? code : null);
    });
  });
}

/**
 * Start `argv` (argv[0] a node binary, replaced by this one) in `cwd`, wait for /readyz, run
 * `whileReady(port)`, then SIGTERM it and check a clean stop within the watchdog of `config`.
 */
async function startAndStop(argv: string[], cwd: string, env: NodeJS.ProcessEnv, config: Config, whileReady: (port: number) => Promise<void> = async () => undefined): Promise<void> {
  assert.equal(path.basename(argv[0]!), 'node', `runs node itself: ${argv.join(' ')}`);
  const limitMs = watchdogMs(config);
  const child = spawn(process.execPath, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => { out += c.toString(); });
  child.stderr.on('data', (c: Buffer) => { err += c.toString(); });
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => child.once('exit', (code) => resolve({ code, at: Date.now() })));
  try {
    const url = await Promise.race([
      (async () => {
        for (;;) {
          const m = /Strom listening on (http:\/\/[^"\s]+)/.exec(out);
          if (m) return m[1]!;
          await sleep(50);
        }
      })(),
      exited.then(({ code }) => { throw new Error(`exited with ${code} before listening: ${err}${out}`); }),
      sleep(60_000).then(() => { throw new Error(`not listening after 60 s: ${err}${out}`); }),
    ]);
    const port = Number(new URL(url).port);
    const rtmpPort = Number(/"port":(\d+)[^\n]*"msg":"RTMP listening"/.exec(out)?.[1] ?? 0);
    let body = '';
    for (let i = 0; i < 300; i++) {
      const r = await fetch(`${url}/readyz`);
      body = await r.text();
      if (r.status === 200) break;
      await sleep(100);
    }
    assert.match(body, /"status":"ready"/, `GET /readyz (ffmpeg and ffprobe must be installed): ${body}`);
    await whileReady(port);

    const children = childPids(child.pid!);
    if (children) assert.ok(children.length >= config.delivery.workers, `delivery workers running: ${children.join(' ')}`);
    const sent = Date.now();
    child.kill('SIGTERM');
    const { code, at } = await Promise.race([exited, sleep(limitMs + 10_000).then(() => ({ code: -1, at: Date.now() }))]);
    assert.equal(code, 0, `exit code after SIGTERM (stderr: ${err})`);
    assert.ok(at - sent < limitMs, `stopped in ${at - sent} ms, within the ${limitMs} ms watchdog`);
    assert.ok(await refused(port), `HTTP port ${port} released`);
    if (rtmpPort > 0) assert.ok(await refused(rtmpPort), `RTMP port ${rtmpPort} released`);
    assert.match(out, /"msg":"stopped"/, 'a graceful stop, not the watchdog');
    for (const pid of children ?? []) assert.ok(!alive(pid), `child ${pid} did not outlive the server`);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

// ------------------------------------------------------------------ tests

describe('deploy/systemd/strom.service', () => {
  test('ExecStart runs node bin/strom.js serve --config FILE, never npx or npm', () => {
    const exec = one('ExecStart');
    assert.doesNotMatch(exec, /\b(npx|npm|yarn|pnpm)\b/, 'npm exec does not forward SIGTERM to the server');
    const argv = exec.split(/\s+/);
    assert.ok(path.isAbsolute(argv[0]!) && path.basename(argv[0]!) === 'node', `node by absolute path: ${argv[0]}`);
    assert.equal(argv[1], path.join(one('WorkingDirectory'), 'bin', 'strom.js'));
    assert.equal(argv[2], 'serve');
    assert.equal(argv[3], '--config');
    assert.ok(path.isAbsolute(argv[4]!), 'config file by absolute path');
    assert.equal(argv.length, 5);
  });

  test('SIGTERM to the main process; TimeoutStopSec above the stop watchdog; restarts on failure', () => {
    assert.equal(one('KillSignal'), 'SIGTERM');
    assert.equal(one('KillMode'), 'mixed', 'only the main process gets SIGTERM; it stops its workers and ffmpeg children itself');
    const stopMs = timeSpanMs(one('TimeoutStopSec'));
    const shipped = loadConfig({ file: UNIT_CONFIG, env: {} });
    for (const [what, config] of [['defaults', resolveConfig()], ['deploy/systemd/strom.json', shipped]] as const) {
      const w = watchdogMs(config);
      assert.ok(stopMs > w, `TimeoutStopSec ${stopMs} ms exceeds the watchdog ${w} ms (${what})`);
    }
    assert.equal(one('Restart'), 'on-failure');
    assert.equal(one('User'), 'strom');
  });

  test('sandboxed, with the data directory of the shipped config writable', () => {
    const shipped = loadConfig({ file: UNIT_CONFIG, env: {} });
    assert.equal(one('NoNewPrivileges'), 'yes');
    assert.equal(one('ProtectSystem'), 'strict');
    assert.equal(one('PrivateTmp'), 'yes');
    const writable = (service.get('ReadWritePaths') ?? []).flatMap((v) => v.split(/\s+/));
    assert.ok(writable.includes(shipped.dataDir), `ReadWritePaths has dataDir ${shipped.dataDir}`);
    assert.ok(Number(one('LimitNOFILE')) >= 65536, 'LimitNOFILE');
    assert.equal(shipped.timeouts.shutdownMs, resolveConfig().timeouts.shutdownMs, 'the shipped config keeps the default shutdown time the comments name');
    assert.notEqual(service.get('MemoryDenyWriteExecute')?.at(-1), 'yes', 'V8 needs writable+executable memory');
  });
});

describe('deploy/Dockerfile', () => {
  const defaults = resolveConfig();

  test('EXPOSE is the default HTTP, RTMP and WebRTC UDP ports; ENV ports agree', () => {
    const exposed = runtime.filter((i) => i.op === 'EXPOSE').flatMap((i) => i.args.split(/\s+/));
    const tcp = exposed.filter((p) => !p.endsWith('/udp')).map((p) => Number(p.replace(/\/tcp$/, '')));
    assert.deepEqual(tcp.sort((a, b) => a - b), [defaults.rtmp.port, defaults.port].sort((a, b) => a - b));
    assert.deepEqual(exposed.filter((p) => p.endsWith('/udp')), [`${defaults.webrtc.udpPortMin}-${defaults.webrtc.udpPortMax}/udp`]);
    const env = envOf(runtime);
    if (env.STROM_PORT !== undefined) assert.equal(Number(env.STROM_PORT), defaults.port);
    if (env.STROM_RTMP_PORT !== undefined) assert.equal(Number(env.STROM_RTMP_PORT), defaults.rtmp.port);
    assert.equal(env.STROM_HOST, '0.0.0.0', 'listens on every interface of the container');
  });

  test('CMD is exec-form node bin/strom.js serve, as a non-root USER; ENTRYPOINT is exec-form', () => {
    assert.deepEqual(execForm(last('CMD').args, 'CMD').slice(0, 3), ['node', 'bin/strom.js', 'serve']);
    const entry = runtime.filter((i) => i.op === 'ENTRYPOINT');
    if (entry.length > 0) {
      const e = execForm(entry.at(-1)!.args, 'ENTRYPOINT');
      assert.match(e[0]!, /tini$/, 'only an init that forwards signals wraps node');
      assert.equal(e.at(-1), '--');
    }
    const user = last('USER').args;
    assert.ok(user !== 'root' && user !== '0' && !user.startsWith('0:') && !user.startsWith('root:'), `USER ${user}`);
    assert.equal(last('WORKDIR').args, '/opt/strom');
    const stop = runtime.filter((i) => i.op === 'STOPSIGNAL');
    if (stop.length > 0) assert.equal(stop.at(-1)!.args, 'SIGTERM');
  });

  test('HEALTHCHECK asks /readyz; the data directory is the volume', () => {
    const hc = last('HEALTHCHECK').args;
    const m = /^((?:--\S+\s+)*)CMD\s+(\[.*\])$/.exec(hc);
    assert.ok(m, `HEALTHCHECK [options] CMD [...]: ${hc}`);
    const cmd = execForm(m[2]!, 'HEALTHCHECK CMD');
    assert.equal(cmd[0], 'node', 'the slim image has node, not curl');
    assert.match(cmd.join(' '), /\/readyz/);
    const env = envOf(runtime);
    assert.equal(env.STROM_DATA_DIR, '/data');
    assert.match(last('VOLUME').args, /"\/data"|^\/data$/);
  });

  test('every STROM_* variable it sets is a real setting', () => {
    const known = new Set([...settings.map((s) => envName(s.key)), 'STROM_CONFIG']);
    const env = envOf(docker);
    const strom = Object.keys(env).filter((k) => k.startsWith('STROM_'));
    assert.ok(strom.length > 0);
    for (const k of strom) assert.ok(known.has(k), `${k} is not a Strom setting (docs/CONFIGURATION.md)`);
    // and they parse: the values the image runs with are valid
    const c = loadConfig({ env });
    assert.equal(c.dataDir, '/data');
  });

  test('two stages; the runtime has ffmpeg, package.json, bin, dist, web/dist and node_modules; .dockerignore keeps the sources', () => {
    assert.ok(finalStage >= 1, 'multi-stage');
    assert.match(docker.find((i) => i.op === 'FROM' && i.stage === finalStage)!.args, /slim/);
    assert.ok(runtime.some((i) => i.op === 'RUN' && /apt-get install[^&]*\bffmpeg\b/.test(i.args)), 'ffmpeg from Debian');
    const copied = runtime.filter((i) => i.op === 'COPY' && i.args.startsWith('--from=')).map((i) => i.args.split(/\s+/)[1]!);
    for (const need of ['package.json', 'bin', 'dist', 'web/dist', 'node_modules']) {
      assert.ok(copied.some((c) => c.endsWith(`/${need}`)), `runtime copies ${need} (package.json: "type": "module")`);
    }
    const build = docker.filter((i) => i.stage === 0);
    assert.ok(build.some((i) => i.op === 'RUN' && /\bnpm ci\b/.test(i.args)), 'build stage runs npm ci (prepare builds dist/)');
    assert.ok(build.some((i) => i.op === 'RUN' && /--omit=dev/.test(i.args)), 'dev dependencies dropped');
    const ignored = readFileSync(DOCKERIGNORE, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const must of ['node_modules', 'dist', '.git']) assert.ok(ignored.includes(must), `.dockerignore has ${must}`);
    const sources = build.filter((i) => i.op === 'COPY' && !i.args.startsWith('--')).flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    for (const src of sources) {
      assert.ok(existsSync(path.join(root, src)), `${src} exists`);
      for (const ig of ignored) assert.ok(!(src === ig || src.startsWith(`${ig}/`)), `${src} is not excluded by .dockerignore (${ig})`);
    }
  });
});

describe('production start and stop, as the unit and the image run it', () => {
  before(() => ensureDist(root));

  test('the systemd ExecStart: ready, then SIGTERM → exit 0 within the watchdog, ports released, no orphan', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'strom-deploy-unit-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    // The shipped config with this machine's paths and free ports.
    const shipped = JSON.parse(readFileSync(UNIT_CONFIG, 'utf8')) as Record<string, unknown>;
    const config = { ...shipped, host: '127.0.0.1', port: 0, dataDir: path.join(dir, 'data'), rtmp: { ...(shipped.rtmp as object), port: 0 } };
    const configFile = path.join(dir, 'strom.json');
    writeFileSync(configFile, JSON.stringify(config));
    const argv = one('ExecStart').split(/\s+/);
    const workDir = one('WorkingDirectory');
    const local = argv.map((a) => (a === argv[4] ? configFile : a.startsWith(`${workDir}/`) ? path.join(root, a.slice(workDir.length + 1)) : a));
    const env: Record<string, string> = {};
    for (const e of service.get('Environment') ?? []) {
      const eq = e.indexOf('=');
      env[e.slice(0, eq)] = e.slice(eq + 1);
    }
    await startAndStop(local, root, cleanEnv(env), loadConfig({ file: configFile, env: {} }));
  });

  test('the image CMD with its ENV: ready, HEALTHCHECK passes, then SIGTERM → exit 0 within the watchdog', async (t) => {
    const dir = mkdtempSync(path.join(tmpdir(), 'strom-deploy-image-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const env = { ...envOf(runtime), STROM_HOST: '127.0.0.1', STROM_PORT: '0', STROM_RTMP_PORT: '0', STROM_DATA_DIR: path.join(dir, 'data') };
    const hc = execForm(/CMD\s+(\[.*\])$/.exec(last('HEALTHCHECK').args)![1]!, 'HEALTHCHECK CMD');
    await startAndStop(execForm(last('CMD').args, 'CMD'), root, cleanEnv(env), loadConfig({ env }), async (port) => {
      assert.equal(await run(process.execPath, hc.slice(1), cleanEnv({ STROM_PORT: String(port) })), 0, 'HEALTHCHECK passes while ready');
    });
    assert.notEqual(await run(process.execPath, hc.slice(1), cleanEnv({ STROM_PORT: '1' })), 0, 'HEALTHCHECK fails without a server');
  });
});
