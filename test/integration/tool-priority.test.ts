/**
 * VOD jobs' ffmpeg runs at a lower CPU priority (`vod.toolNiceness`) so batch transcodes yield to
 * live ingest and delivery: every thread of a real multi-threaded ffmpeg encode is read from
 * /proc while it runs. A run may ask for Strom's own priority (the live slate does).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { runTool, setToolNiceness } from '../../src/vod/ffmpeg-runner.js';

/** Niceness of every thread of `pid` (field 19 of /proc/…/stat, after the parenthesised name). */
function threadNiceness(pid: number): number[] {
  const out: number[] = [];
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    out.push(Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
  }
  return out;
}

/** The pid of a process with `marker` in its arguments (read from /proc, no procps needed). */
function pidOf(marker: string): number | null {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d) || Number(d) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(marker)) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return null;
}

const ENCODE = (marker: string) => ['-hide_banner', '-nostdin', '-loglevel', 'error', '-f', 'lavfi', '-i', 'testsrc2=size=640x360:rate=30',
  '-t', '30', '-c:v', 'libx264', '-preset', 'medium', '-threads', '4', '-metadata', `title=${marker}`, '-f', 'null', '-'];

async function threadsWhileRunning(marker: string, run: () => Promise<unknown>): Promise<number[]> {
  const done = run().catch(() => undefined);
  let seen: number[] = [];
  for (let i = 0; i < 100 && seen.length < 4; i++) {
    await new Promise((r) => setTimeout(r, 50));
    const pid = pidOf(marker);
    if (pid !== null) seen = threadNiceness(pid);
  }
  const pid = pidOf(marker);
  if (pid !== null) process.kill(pid, 'SIGKILL');
  await done;
  return seen;
}

test('a VOD tool runs at vod.toolNiceness, every encoder thread included; a run can keep Strom\'s priority', async () => {
  const base = Number(readFileSync('/proc/self/stat', 'utf8').split(') ')[1]!.split(' ')[16]);
  setToolNiceness(10);
  try {
    const lowered = await threadsWhileRunning('stromnicelow', () => runTool('ffmpeg', ENCODE('stromnicelow'), { timeoutMs: 20_000 }));
    assert.ok(lowered.length >= 4, `ffmpeg's threads were seen (${lowered.length})`);
    assert.deepEqual([...new Set(lowered)], [Math.min(19, base + 10)], `every thread 10 below Strom's priority: ${lowered.join(',')}`);
    const kept = await threadsWhileRunning('stromnicekept', () => runTool('ffmpeg', ENCODE('stromnicekept'), { timeoutMs: 20_000, niceness: 0 }));
    assert.ok(kept.length >= 4, `ffmpeg's threads were seen (${kept.length})`);
    assert.deepEqual([...new Set(kept)], [base], 'niceness 0: Strom\'s own priority');
  } finally {
    setToolNiceness(0);
  }
});
