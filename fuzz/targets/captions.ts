/**
 * Caption uploads: WebVTT (W3C WebVTT §4) and SubRip files, detected by type or content.
 */
import { parseCaptionFile } from '../../src/vod/captions/caption-file.js';
import { CaptionError, parseWebVtt, serializeWebVtt } from '../../src/vod/captions/webvtt.js';
import { invariant, type FuzzTarget } from '../engine/target.js';

/** Parse as VTT, SRT and sniffed: a document or a CaptionError; accepted cues ordered and re-parseable. */
export const captions: FuzzTarget = {
  name: 'captions',
  checks: 'parseCaptionFile returns cues or throws CaptionError naming a line ≥ 1; cues have finite 0 ≤ start ≤ end in start order; the serialized WebVTT parses again to the same cues (times and text)',
  dict: ['WEBVTT\n\n', '00:00:01.000 --> 00:00:02.000', '00:00:01,000 --> 00:00:02,000', '\n\n', '\r\n', '1\n', 'NOTE ', 'STYLE\n', 'REGION\n', ' line:0 align:start', '-->', '\uFEFF', '<b>', '99:59:59.999'],
  maxLen: 4096,
  run(input) {
    for (const type of ['text/vtt', 'application/x-subrip', undefined]) {
      let doc;
      try {
        doc = parseCaptionFile(input, type).doc;
      } catch (err) {
        invariant(err instanceof CaptionError && err.line >= 1, `unexpected refusal: ${String(err)}`);
        continue;
      }
      let prev = -Infinity;
      for (const c of doc.cues) {
        invariant(Number.isFinite(c.startS) && Number.isFinite(c.endS) && c.startS >= 0 && c.endS >= c.startS, `cue ${c.startS} --> ${c.endS}`);
        invariant(c.startS >= prev, 'cues out of order');
        prev = c.startS;
      }
      let again;
      try {
        again = parseWebVtt(serializeWebVtt(doc));
      } catch (err) {
        invariant(false, `serialized captions do not parse again: ${String(err)}`);
      }
      invariant(again.cues.length === doc.cues.length, `${doc.cues.length} cues became ${again.cues.length} after a round trip`);
      again.cues.forEach((c, i) => {
        const o = doc.cues[i]!;
        invariant(c.startS === o.startS && c.endS === o.endS && c.text === o.text, `cue ${i + 1} changed in a round trip: ${JSON.stringify(o.text)} → ${JSON.stringify(c.text)}`);
      });
    }
  },
};
