/**
 * WebVTT (W3C WebVTT, "WebVTT file structure" §4.1 and the parser of §6.1) read strictly enough to
 * refuse what players would silently drop: a file must start with `WEBVTT`, every cue needs a
 * timing line `start --> end [settings]`, a cue may not end before it starts, and cue start times
 * may not go backwards (§4.1: "cues … ordered by start time"). Every refusal names the 1-based
 * line. STYLE and REGION blocks are kept (they must precede the first cue, §4.1); NOTE blocks are
 * comments and dropped. Pure: text in, cues out; serialisation back to text is here too.
 */

/** One cue, times in seconds; `line` is where its timing line was in the uploaded file. */
export interface Cue {
  id: string | null;
  startS: number;
  endS: number;
  /** Cue settings after the end time (`line:0 align:start`), '' when none. */
  settings: string;
  text: string;
  line: number;
}

/** A parsed caption file: STYLE/REGION blocks (verbatim) and cues in start order. */
export interface CaptionDoc {
  blocks: string[];
  cues: Cue[];
}

/** A refused caption file: `line` is 1-based, `why` says what is wrong there. */
export class CaptionError extends Error {
  constructor(readonly line: number, readonly why: string) {
    super(`line ${line}: ${why}`);
    this.name = 'CaptionError';
  }
}

// §4.1 WebVTT timestamp: optional hours (two or more digits), minutes and seconds 00–59, 3-digit milliseconds.
const TIMESTAMP = /^(?:(\d{2,}):)?([0-5]\d):([0-5]\d)\.(\d{3})$/;

/** Seconds of a WebVTT timestamp, or null when it does not parse. */
export function parseTimestamp(text: string): number | null {
  const m = TIMESTAMP.exec(text);
  if (!m) return null;
  return Number(m[1] ?? 0) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]) / 1000;
}

/** `HH:MM:SS.mmm` of a time in seconds (rounded to the millisecond). */
export function formatTimestamp(seconds: number): string {
  const ms = Math.max(0, Math.round(seconds * 1000));
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(ms % 1000).padStart(3, '0')}`;
}

/** Parse a timing line (`00:01.000 --> 00:03.000 align:start`) or throw naming `line`. */
export function parseTimingLine(text: string, line: number): { startS: number; endS: number; settings: string } {
  const m = /^(\S+)[ \t]+-->[ \t]+(\S+)(?:[ \t]+(.*))?$/.exec(text.trim());
  if (!m) throw new CaptionError(line, `cue timing line ${JSON.stringify(text.slice(0, 80))} is not "start --> end"`);
  const startS = parseTimestamp(m[1]!);
  if (startS === null) throw new CaptionError(line, `cue start ${JSON.stringify(m[1])} is not a timestamp (hh:mm:ss.ttt)`);
  const endS = parseTimestamp(m[2]!);
  if (endS === null) throw new CaptionError(line, `cue end ${JSON.stringify(m[2])} is not a timestamp (hh:mm:ss.ttt)`);
  return { startS, endS, settings: (m[3] ?? '').trim() };
}

/** Check the order rules of §4.1 on a cue about to be appended after `prev`. */
export function checkCueOrder(cue: Cue, prev: Cue | undefined): void {
  if (cue.startS > cue.endS) throw new CaptionError(cue.line, `cue starts at ${formatTimestamp(cue.startS)}, after its end ${formatTimestamp(cue.endS)}`);
  if (prev && cue.startS < prev.startS) {
    throw new CaptionError(cue.line, `cue start ${formatTimestamp(cue.startS)} goes back before the previous cue's start ${formatTimestamp(prev.startS)} (line ${prev.line})`);
  }
}

/** Split text into lines (CRLF, CR or LF, §4.1 line terminators). */
export function splitLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/);
}

/** Parse and validate a WebVTT file (BOM already removed or not). */
export function parseWebVtt(text: string): CaptionDoc {
  const lines = splitLines(text.startsWith('\uFEFF') ? text.slice(1) : text);
  // §4.1: "WEBVTT", then optionally a space or tab and free text, on the first line.
  if (!/^WEBVTT(?:$|[ \t])/.test(lines[0] ?? '')) throw new CaptionError(1, 'not a WebVTT file: the first line must be "WEBVTT"');
  let i = 1;
  while (i < lines.length && lines[i] !== '') {
    if (lines[i]!.includes('-->')) throw new CaptionError(i + 1, 'a blank line must separate the WEBVTT header from the first cue');
    i++; // header lines (metadata headers, X-TIMESTAMP-MAP) are not kept
  }
  const doc: CaptionDoc = { blocks: [], cues: [] };
  while (i < lines.length) {
    if (lines[i] === '') {
      i++;
      continue;
    }
    const start = i;
    const block: string[] = [];
    while (i < lines.length && lines[i] !== '') block.push(lines[i++]!);
    const first = block[0]!;
    if (/^NOTE(?:$|[ \t])/.test(first)) continue;
    if (/^(STYLE|REGION)[ \t]*$/.test(first) && !block.some((l) => l.includes('-->'))) {
      if (doc.cues.length > 0) throw new CaptionError(start + 1, `${first.trim()} blocks must come before the first cue`);
      doc.blocks.push(block.join('\n'));
      continue;
    }
    let t = 0;
    let id: string | null = null;
    if (!first.includes('-->')) {
      if (block.length < 2 || !block[1]!.includes('-->')) throw new CaptionError(start + 1, `expected a cue timing line ("start --> end"), found ${JSON.stringify(first.slice(0, 80))}`);
      id = first;
      t = 1;
    }
    const timing = parseTimingLine(block[t]!, start + t + 1);
    const payload = block.slice(t + 1);
    const bad = payload.findIndex((l) => l.includes('-->'));
    if (bad >= 0) throw new CaptionError(start + t + 2 + bad, 'cue text may not contain "-->" (a blank line is missing before this cue)');
    const cue: Cue = { id, ...timing, text: payload.join('\n'), line: start + t + 1 };
    checkCueOrder(cue, doc.cues.at(-1));
    doc.cues.push(cue);
  }
  return doc;
}

/** One cue block as WebVTT text, with times shifted by `-offsetS` (segments use local times). */
export function cueText(cue: Cue, o: { offsetS?: number; startS?: number; endS?: number; withId?: boolean } = {}): string {
  const off = o.offsetS ?? 0;
  const timing = `${formatTimestamp((o.startS ?? cue.startS) - off)} --> ${formatTimestamp((o.endS ?? cue.endS) - off)}${cue.settings ? ` ${cue.settings}` : ''}`;
  return [...(o.withId !== false && cue.id ? [cue.id] : []), timing, ...(cue.text ? [cue.text] : [])].join('\n');
}

/** The whole document as a WebVTT file (`headerLines` go right after `WEBVTT`, e.g. X-TIMESTAMP-MAP). */
export function serializeWebVtt(doc: CaptionDoc, headerLines: string[] = []): string {
  const parts = [['WEBVTT', ...headerLines].join('\n'), ...doc.blocks, ...doc.cues.map((c) => cueText(c))];
  return `${parts.join('\n\n')}\n`;
}
