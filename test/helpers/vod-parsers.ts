/**
 * Typed access to the untyped `m3u8-parser` and `mpd-parser` packages (no @types exist): only the
 * fields the VOD tests read, declared here so tests stay free of `any`.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** A segment as both parsers report it. */
export interface ParsedSegment {
  duration: number;
  uri: string;
  resolvedUri?: string;
  map?: { uri: string; resolvedUri?: string };
}

/** A variant / representation as both parsers report it. */
export interface ParsedPlaylist {
  uri?: string;
  attributes: Record<string, unknown> & { BANDWIDTH?: number; CODECS?: string; RESOLUTION?: { width: number; height: number }; NAME?: string };
  segments?: ParsedSegment[];
}

/** The parsed manifest (HLS or DASH). */
export interface ParsedManifest {
  playlists?: ParsedPlaylist[];
  segments?: ParsedSegment[];
  mediaGroups?: { AUDIO?: Record<string, Record<string, { uri?: string; default?: boolean; playlists?: ParsedPlaylist[] }>> };
  endList?: boolean;
  playlistType?: string;
  targetDuration?: number;
  independentSegments?: boolean;
  duration?: number;
}

const { Parser } = require('m3u8-parser') as { Parser: new () => { push(s: string): void; end(): void; manifest: ParsedManifest } };
const mpd = require('mpd-parser') as { parse(text: string, o: { manifestUri: string }): ParsedManifest };

/** Parse an HLS playlist with m3u8-parser. */
export function parseM3u8(text: string): ParsedManifest {
  const p = new Parser();
  p.push(text);
  p.end();
  return p.manifest;
}

/** Parse an MPD with mpd-parser. */
export function parseMpd(text: string, manifestUri = 'http://localhost/manifest.mpd'): ParsedManifest {
  return mpd.parse(text, { manifestUri });
}
