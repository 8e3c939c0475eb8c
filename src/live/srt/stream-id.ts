/**
 * What an SRT caller asks for, from its stream id (SRTO_STREAMID). Three spellings are accepted:
 * - the SRT Access Control syntax (libsrt docs/features/access-control.md): `#!::r=<name>,m=publish`
 *   or `#!::r=<name>,m=request` (`m` defaults to request), other keys (`u`, `s`, `h`, `t`) ignored,
 *   plus `token=<signed playback token>` for readers of guarded streams and `backup=1` for a
 *   backup publisher (backup ingest);
 * - `publish:<streamKey>` / `read:<streamId>` (MediaMTX's form, common in encoder presets);
 * - a bare `<streamKey>`: publish (what simple encoders can set).
 */

/** A parsed stream id. */
export interface SrtStreamRequest {
  mode: 'publish' | 'request';
  /** Stream key (publish) or live stream id (request). */
  name: string;
  token: string | null;
  /** A backup publisher (`backup=1`): waits as standby while the primary is live. */
  backup: boolean;
}

/** Why a stream id was refused. */
export interface StreamIdError {
  error: string;
  /** SRT_REJX_* code: 1400 bad request, 1405 bad mode. */
  code: number;
}

/** Parse a stream id; an error names what was wrong. */
export function parseStreamId(raw: string): SrtStreamRequest | StreamIdError {
  if (raw === '') return { error: 'no stream id: set streamid to #!::r=<key>,m=publish (or a bare stream key)', code: 1400 };
  if (raw.startsWith('#!::')) {
    const fields = new Map<string, string>();
    for (const part of raw.slice(4).split(',')) {
      const eq = part.indexOf('=');
      if (eq <= 0) return { error: `malformed access-control field ${JSON.stringify(part)} (expected key=value)`, code: 1400 };
      fields.set(part.slice(0, eq), part.slice(eq + 1));
    }
    const name = fields.get('r') ?? '';
    const m = fields.get('m') ?? 'request';
    if (name === '') return { error: 'access-control stream id without r=<resource>', code: 1400 };
    if (m !== 'publish' && m !== 'request') return { error: `mode m=${m} is not supported (publish or request)`, code: 1405 };
    return { mode: m, name, token: fields.get('token') ?? null, backup: isBackupFlag(fields.get('backup')) };
  }
  const colon = raw.indexOf(':');
  if (colon > 0) {
    const verb = raw.slice(0, colon);
    const rest = raw.slice(colon + 1);
    if (verb === 'publish' || verb === 'read') {
      const q = rest.indexOf('?');
      const name = q < 0 ? rest : rest.slice(0, q);
      const query = new URLSearchParams(q < 0 ? '' : rest.slice(q + 1));
      if (name === '') return { error: `${verb}: without a name`, code: 1400 };
      return { mode: verb === 'publish' ? 'publish' : 'request', name, token: query.get('token'), backup: isBackupFlag(query.get('backup') ?? undefined) };
    }
  }
  return { mode: 'publish', name: raw, token: null, backup: false };
}

/** `backup=1` (or `true`) marks a backup publisher. */
export function isBackupFlag(v: string | undefined | null): boolean {
  return v === '1' || v === 'true';
}
