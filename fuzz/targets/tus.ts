/**
 * tus creation headers as the upload path reads them (tus 1.0 §Upload-Metadata): the metadata parser of the tus server Strom mounts, then Strom's own mapping
 * of title/filename/visibility to a video row.
 */
import { Metadata } from '@tus/server'; // re-exported from @tus/utils: the parser the mounted tus server uses
import { videoFields } from '../../src/http/uploads/upload-files.js';
import { invariant, type FuzzTarget } from '../engine/target.js';

/** Upload-Metadata → video fields: title ≤ 500 chars, visibility public|signed, else a clear refusal. */
export const tusHeaders: FuzzTarget = {
  name: 'tus-headers',
  checks: 'Upload-Metadata parses or is refused with an Error; the fields Strom keeps have a title ≤ 500 characters and visibility public or signed, anything else is refused naming "visibility"',
  dict: ['title ', 'filename ', 'visibility ', 'cHVibGlj', 'c2lnbmVk', 'aGlkZGVu', ',', ' ', '='],
  maxLen: 2048,
  run(input) {
    const metadata = input.toString('latin1');
    let md: Record<string, string | null>;
    try {
      md = Metadata.parse(metadata);
    } catch (err) {
      invariant(err instanceof Error, 'metadata parser threw a non-Error');
      return;
    }
    try {
      const f = videoFields({ title: md.title ?? undefined, filename: md.filename ?? undefined, visibility: md.visibility ?? undefined });
      invariant(f.title.length <= 500, `title of ${f.title.length} chars`);
      invariant(f.visibility === 'public' || f.visibility === 'signed', `visibility ${f.visibility}`);
    } catch (err) {
      if (err instanceof Error && err.name === 'InvariantError') throw err;
      invariant(err instanceof Error && /visibility/.test(err.message), `unexpected refusal: ${String(err)}`);
    }
  },
};
