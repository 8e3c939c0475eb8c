/**
 * Crash-safe recordings (docs/LIVE.md "LL-DASH, DVR and recording"): a recording
 * interrupted by a crash is left as `<dataDir>/tmp/rec-*`. At start, before any new publisher,
 * every such directory is either finished like a normal end — manifests written from its journal
 * and handed to the same `publish` (video row, one `rename` into assets/, `video.ready`) — or
 * deleted. The recorder keeps the journal: `recording.json` (stream, session, codecs, size) when
 * the muxer attaches and one `segments.jsonl` line per segment AFTER the segment file is written,
 * so a journal line means a complete segment. A directory is published when it has the head, at
 * least one journaled segment whose file has exactly the journaled size, and the init segment(s)
 * those segments need; segments after the first missing or short one are dropped. Anything else
 * (crash before the first segment, foreign files) is removed.
 */
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { finalizeRecordingDir, JOURNAL, JOURNAL_HEAD, type FinishedRecording } from './live-recorder.js';
import { initName, type RecordedSegment } from './vod-manifests.js';

/** What the sweep did. */
export interface SweepResult {
  published: string[];
  removed: string[];
}

async function size(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch {
    return -1;
  }
}

/** The recording in `dir` if it can be finished, else null. */
async function recover(dir: string): Promise<FinishedRecording | null> {
  let head: { streamId?: unknown; sessionId?: unknown; startedAt?: unknown; codecs?: unknown; width?: unknown; height?: unknown };
  let lines: string[];
  try {
    head = JSON.parse(await readFile(path.join(dir, JOURNAL_HEAD), 'utf8')) as typeof head;
    lines = (await readFile(path.join(dir, JOURNAL), 'utf8')).split('\n');
  } catch {
    return null;
  }
  if (typeof head.streamId !== 'string' || typeof head.sessionId !== 'string') return null;
  const segments: RecordedSegment[] = [];
  for (const line of lines) {
    if (line.trim() === '') continue;
    let s: RecordedSegment;
    try {
      s = JSON.parse(line) as RecordedSegment;
    } catch {
      break; // torn last line
    }
    if (![s.msn, s.startMs, s.durationMs, s.initVersion, s.bytes].every((x) => Number.isInteger(x) && x >= 0)) break;
    if ((await size(path.join(dir, `seg_${s.msn}.m4s`))) !== s.bytes || (await size(path.join(dir, initName(s.initVersion)))) <= 0) break;
    segments.push(s);
  }
  if (segments.length === 0) return null;
  const num = (x: unknown) => (typeof x === 'number' && x > 0 ? x : undefined);
  const codecs = Array.isArray(head.codecs) ? head.codecs.filter((c): c is string => typeof c === 'string') : [];
  return {
    streamId: head.streamId, sessionId: head.sessionId, dir, startedAt: num(head.startedAt) ?? Date.now(),
    info: { segments, codecs, width: num(head.width), height: num(head.height) },
  };
}

/** Finish or delete every `rec-*` directory under `tmpDir` (see the header). */
export async function sweepRecordings(tmpDir: string, publish: (rec: FinishedRecording) => Promise<void>, log: Logger): Promise<SweepResult> {
  const out: SweepResult = { published: [], removed: [] };
  let names: string[];
  try {
    names = (await readdir(tmpDir)).filter((n) => n.startsWith('rec-'));
  } catch {
    return out; // no tmp dir yet
  }
  for (const name of names) {
    const dir = path.join(tmpDir, name);
    try {
      const rec = await recover(dir);
      if (rec === null) {
        await rm(dir, { recursive: true, force: true });
        out.removed.push(name);
        log.warn({ dir }, 'interrupted recording without a complete segment removed');
        continue;
      }
      const keep = new Set(rec.info.segments.map((s) => `seg_${s.msn}.m4s`));
      for (const f of await readdir(dir)) if (f.startsWith('seg_') && !keep.has(f)) await rm(path.join(dir, f), { force: true }); // torn tail
      await finalizeRecordingDir(dir, rec.info);
      await publish(rec);
      out.published.push(name);
      log.info({ dir, streamId: rec.streamId, segments: rec.info.segments.length }, 'interrupted recording finished and published');
    } catch (err) {
      log.error({ err, dir }, 'interrupted recording could not be finished; removed');
      await rm(dir, { recursive: true, force: true });
      out.removed.push(name);
    }
  }
  return out;
}
