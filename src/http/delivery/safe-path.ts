/**
 * Validation of delivery paths. A media URL is `/v/<assetId>/<segment>/…/<file>`; every piece is
 * checked against a strict alphabet *before* decoding matters: encoded slashes, backslashes, dots,
 * NUL bytes, `..`, hidden files and over-long paths are refused with 400. Symlinks that leave the
 * data directory are caught later, by realpath, in the file catalog.
 */
import { fail } from '../../errors.js';

/** Asset ids: URL-safe, 1–64 characters (what the VOD pipeline and live recorder generate). */
export const ASSET_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** A path segment below an asset: starts alphanumeric (no dot files, no `..`), then [A-Za-z0-9._-]. */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const MAX_DEPTH = 6;
const MAX_LENGTH = 512;

/** A validated location inside the asset tree. */
export interface AssetPath {
  assetId: string;
  /** Path below the asset directory, '/'-separated, validated. */
  rel: string;
}

/**
 * Validate the path part of a URL that starts with `prefix` (for example `/v/`). Percent-escapes
 * are refused outright: no legitimate Strom URL needs them, and decoding is where traversal hides.
 */
export function parseAssetPath(pathname: string, prefix: string): AssetPath {
  if (pathname.length > MAX_LENGTH) throw fail('BAD_PATH', pathname.slice(0, 64), `longer than ${MAX_LENGTH} characters`);
  if (pathname.includes('%')) throw fail('BAD_PATH', pathname, 'percent-encoded characters are not allowed');
  if (pathname.includes('\\')) throw fail('BAD_PATH', pathname, 'backslashes are not allowed');
  if (pathname.includes('\0')) throw fail('BAD_PATH', pathname, 'NUL bytes are not allowed');
  const parts = pathname.slice(prefix.length).split('/');
  const assetId = parts.shift() ?? '';
  if (!ASSET_ID.test(assetId)) throw fail('BAD_PATH', pathname, `asset id ${JSON.stringify(assetId)} is not [A-Za-z0-9_-]{1,64}`);
  if (parts.length === 0 || parts.length > MAX_DEPTH) throw fail('BAD_PATH', pathname, `expected 1 to ${MAX_DEPTH} path segments after the asset id`);
  for (const p of parts) {
    if (!SEGMENT.test(p)) throw fail('BAD_PATH', pathname, `segment ${JSON.stringify(p)} is not allowed`);
  }
  return { assetId, rel: parts.join('/') };
}
