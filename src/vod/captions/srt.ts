/**
 * SubRip (.srt) to WebVTT. SubRip has no formal specification; what players accept is: blocks
 * separated by blank lines, each an index line (digits), a timing line `00:00:01,000 --> 00:00:03,000`
 * (comma before the milliseconds; a dot is accepted too, as many tools write it) and text lines.
 * The conversion keeps the times and text, drops the index lines, removes `<font>` tags and
 * `{\an8}`-style override codes (not WebVTT cue text, W3C WebVTT §4.2.2) and keeps `<i>`, `<b>`,
 * `<u>`, which are. The same rules as for WebVTT apply (start ≤ end, starts never going back),
 * and every refusal names the line of the .srt file.
 */
import { CaptionError, checkCueOrder, splitLines, type CaptionDoc, type Cue } from './webvtt.js';

// Hours may have 1–2+ digits in the wild; milliseconds 1–3 digits (`,5` is read as 500 ms).
const SRT_TIME = /^(\d{1,}):([0-5]?\d):([0-5]?\d)[,.](\d{1,3})$/;

/** Seconds of an SRT timestamp (`00:00:01,500`), or null. */
export function parseSrtTimestamp(text: string): number | null {
  const m = SRT_TIME.exec(text);
  if (!m) return null;
  return Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) + Number(m[4]!.padEnd(3, '0')) / 1000;
}

/** Cue text of SubRip as WebVTT cue text. */
export function srtTextToVtt(text: string): string {
  return text
    .replace(/<\/?font[^>]*>/gi, '')
    .replace(/\{\\[^}]*\}/g, '')
    .replace(/&(?![a-zA-Z]+;|#\d+;|#x[0-9a-fA-F]+;)/g, '&amp;') // a bare & starts a character reference in WebVTT (§4.2.2)
    .replace(/-->/g, '--&gt;');
}

/** True when `text` looks like SubRip: first non-blank line an index, the next a comma timing line. */
export function looksLikeSrt(text: string): boolean {
  const lines = splitLines(text.replace(/^\uFEFF/, '')).filter((l, i, all) => l.trim() !== '' || all.slice(0, i).some((x) => x.trim() !== ''));
  return /^\d+\s*$/.test(lines[0] ?? '') && /^\s*\d+:\d+:\d+,\d+\s+-->/.test(lines[1] ?? '');
}

/** Parse a SubRip file into cues (validated like WebVTT). */
export function parseSrt(text: string): CaptionDoc {
  const lines = splitLines(text.startsWith('\uFEFF') ? text.slice(1) : text);
  const cues: Cue[] = [];
  let i = 0;
  while (i < lines.length) {
    if (lines[i]!.trim() === '') {
      i++;
      continue;
    }
    const start = i;
    const block: string[] = [];
    while (i < lines.length && lines[i]!.trim() !== '') block.push(lines[i++]!);
    // The index line is optional in practice; the timing line is not.
    let t = 0;
    if (/^\d+$/.test(block[0]!.trim()) && !block[0]!.includes('-->')) t = 1;
    const timingText = block[t];
    const line = start + t + 1;
    if (timingText === undefined || !timingText.includes('-->')) {
      throw new CaptionError(line > start + block.length ? start + 1 : line, `expected a SubRip timing line ("00:00:01,000 --> 00:00:03,000"), found ${JSON.stringify((timingText ?? block[0]!).slice(0, 80))}`);
    }
    const m = /^\s*(\S+)\s+-->\s+(\S+)(?:\s+.*)?$/.exec(timingText);
    if (!m) throw new CaptionError(line, `cue timing line ${JSON.stringify(timingText.slice(0, 80))} is not "start --> end"`);
    const startS = parseSrtTimestamp(m[1]!);
    if (startS === null) throw new CaptionError(line, `cue start ${JSON.stringify(m[1])} is not a SubRip timestamp (hh:mm:ss,ttt)`);
    const endS = parseSrtTimestamp(m[2]!);
    if (endS === null) throw new CaptionError(line, `cue end ${JSON.stringify(m[2])} is not a SubRip timestamp (hh:mm:ss,ttt)`);
    const cue: Cue = { id: null, startS, endS, settings: '', text: srtTextToVtt(block.slice(t + 1).join('\n')), line };
    checkCueOrder(cue, cues.at(-1));
    cues.push(cue);
  }
  return { blocks: [], cues };
}
