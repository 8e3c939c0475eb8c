/**
 * An uploaded caption file, from bytes to a validated WebVTT document: UTF-8 is required (W3C
 * WebVTT §4.1: "WebVTT files are UTF-8"; SubRip files are converted on the same terms), binary
 * content is refused naming the line of the first bad byte, and the format comes from the
 * Content-Type (`text/vtt`, `application/x-subrip`) or, for anything else, from the content.
 */
import { looksLikeSrt, parseSrt } from './srt.js';
import { CaptionError, parseWebVtt, type CaptionDoc } from './webvtt.js';

/** Source format of an uploaded caption file. */
export type CaptionFormat = 'vtt' | 'srt';

const SRT_TYPES = new Set(['application/x-subrip', 'text/srt', 'application/srt', 'text/x-srt']);

/** The format named by a Content-Type, or null when it names none (detect from the content). */
export function formatOfType(contentType: string | undefined): CaptionFormat | null {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type === 'text/vtt') return 'vtt';
  return SRT_TYPES.has(type) ? 'srt' : null;
}

/**
 * Decode UTF-8 strictly, line by line so an error names its line. Control characters other than
 * tab, line feed, form feed and carriage return are refused too: they are not text.
 */
export function decodeText(body: Buffer): string {
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let line = 1;
  let from = 0;
  const parts: string[] = [];
  while (from <= body.length) {
    let to = body.indexOf(0x0a, from);
    if (to < 0) to = body.length;
    const bytes = body.subarray(from, to);
    let text: string;
    try {
      text = decoder.decode(bytes);
    } catch {
      throw new CaptionError(line, 'not UTF-8 text (binary data or another encoding)');
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u0008\u000b\u000e-\u001f\u007f]/.test(text)) throw new CaptionError(line, 'binary data (control characters) in a text file');
    parts.push(text);
    from = to + 1;
    line++;
  }
  return parts.join('\n');
}

/** Parse an uploaded caption file (WebVTT, or SubRip converted) and validate it. */
export function parseCaptionFile(body: Buffer, contentType?: string): { doc: CaptionDoc; format: CaptionFormat } {
  if (body.length === 0) throw new CaptionError(1, 'the file is empty');
  const text = decodeText(body);
  const format = formatOfType(contentType) ?? (looksLikeSrt(text) ? 'srt' : 'vtt');
  const doc = format === 'srt' ? parseSrt(text) : parseWebVtt(text);
  if (doc.cues.length === 0) throw new CaptionError(1, 'the file has no cues');
  return { doc, format };
}

// RFC 5646 §2.1 in its common shape: a 2–3 letter language, then subtags of 1–8 letters/digits.
const BCP47 = /^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$/;

/**
 * The canonical case of a BCP 47 tag (RFC 5646 §2.1.1: language lower case, script title case,
 * region upper case), so `PT-br` and `pt-BR` are one track; null when it is not a tag.
 */
export function canonicalLanguage(tag: string): string | null {
  if (tag.length > 35 || !BCP47.test(tag)) return null;
  return tag.split('-').map((s, i) => {
    if (i === 0) return s.toLowerCase();
    if (s.length === 4 && /^[A-Za-z]+$/.test(s)) return s[0]!.toUpperCase() + s.slice(1).toLowerCase();
    if (s.length === 2) return s.toUpperCase();
    return s.toLowerCase();
  }).join('-');
}

/** A readable name of a language in English (`pt-BR` → "Brazilian Portuguese"), for a missing label. */
export function languageName(tag: string): string {
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' }).of(tag) ?? tag;
  } catch {
    return tag;
  }
}
