/**
 * The page's view of Strom's REST API (docs/API.md): the API token (localStorage), `api()` for JSON
 * calls with `Authorization: Bearer`, the shapes the pages use, and `events()` reading
 * `GET /api/v1/events` through fetch — EventSource cannot send headers, and a token in a URL ends up
 * in logs and history, so the stream is parsed here (WHATWG HTML §9.2.6, "Interpreting an event stream").
 */

const TOKEN_KEY = 'strom.token';

/** The stored API token, or null when signed out. */
export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

/** Store (or, with null, forget) the API token. */
export function setToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token.trim());
  else localStorage.removeItem(TOKEN_KEY);
}

/** Scopes named in the stored JWT's `scope`/`scp` claim (unverified: only to hide what would 403). */
export function tokenScopes(token = getToken()): string[] {
  try {
    const part = token?.split('.')[1];
    if (!part) return [];
    const claims = JSON.parse(atob(part.replace(/-/g, '+').replace(/_/g, '/'))) as { scope?: string; scp?: string[] };
    return claims.scp ?? claims.scope?.split(' ') ?? [];
  } catch {
    return [];
  }
}

/** An API error: `{error: {code, message, status}}`. */
export class ApiError extends Error {
  constructor(readonly status: number, readonly code: string, message: string) {
    super(message);
  }
}

/** Call the API; resolves to the parsed JSON body (undefined for 204), throws ApiError otherwise. */
export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  const token = getToken();
  if (token) headers.authorization = `Bearer ${token}`;
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
  if (res.status === 204) return undefined as T;
  const text = await res.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON: reported below */
  }
  if (!res.ok) {
    const e = (json as { error?: { code?: string; message?: string } } | undefined)?.error;
    throw new ApiError(res.status, e?.code ?? `HTTP_${res.status}`, e?.message ?? (text.slice(0, 200) || res.statusText));
  }
  return json as T;
}

/** `GET /metrics` as text (loopback is allowed without a token, others need admin); null if refused or absent. */
export async function fetchMetrics(signal?: AbortSignal): Promise<string | null> {
  const token = getToken();
  const res = await fetch('/metrics', { headers: token ? { authorization: `Bearer ${token}` } : {}, signal, cache: 'no-store' }).catch(() => null);
  return res?.ok ? res.text() : null;
}

/** Playback URL paths of a video. */
export interface Playback {
  hls: string;
  dash: string;
  mp4: string;
  poster: string;
}

/** A video (docs/API.md "Video JSON"). */
export interface Video {
  id: string;
  title: string;
  description: string;
  visibility: 'public' | 'signed';
  /** Content protection (docs/VOD.md "Content protection"). */
  protection: 'none' | 'aes-128' | 'cenc';
  status: 'waiting' | 'queued' | 'processing' | 'ready' | 'errored';
  /** 0..1 */
  progress: number;
  error: { code: string; message: string } | null;
  durationS: number | null;
  width: number | null;
  height: number | null;
  createdAt: string;
  playback: Playback;
}

/** Live runtime fields: the API reports them in `live` while the stream is on air. */
export interface LiveStatus {
  state?: 'idle' | 'active';
  ingestBitrate?: number;
  fps?: number;
  viewers?: { total: number } & Record<string, number>;
  video?: { codec: string; width?: number; height?: number } | null;
  /** The publisher left and viewers see the slate until `until` (the reconnect window). */
  slate?: { since: string; until: string; reason: string } | null;
}

/** A live stream (docs/API.md "Live stream JSON"). */
export interface LiveStream {
  id: string;
  title: string;
  streamKey: string;
  visibility: 'public' | 'signed';
  status: 'idle' | 'active';
  record: boolean;
  createdAt: string;
  ingest: { rtmp: string; /** WHIP endpoint (Bearer = stream key) */ whip?: string; /** SRT caller URL with the stream id (when the server runs SRT) */ srt?: string; /** RTSP publish URL (when the server runs RTSP) */ rtsp?: string };
  /** SRT callers must encrypt with the stream's passphrase. */
  srtEncrypted?: boolean;
  playback: { flv: string; hls: string; dash: string; whep: string; thumbnail: string; /** SRT reader URL (MPEG-TS) */ srt?: string; /** RTSP reader URL */ rtsp?: string };
  /** The pulled source (a camera or another server), or null for a pushed stream. */
  source?: LiveSource | null;
  /** Optional: live status if the API reports it (several names tolerated). */
  live?: LiveStatus;
  viewers?: number | { total: number };
  ingestBitrate?: number;
}

/** A live stream's pulled source as the API shows it (URL masked). */
export interface LiveSource {
  url: string;
  onDemand: boolean;
  state: 'idle' | 'connecting' | 'live' | 'failed';
  since: string | null;
  reason: string | null;
  protocol: string | null;
}

/** A page of items. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** One server-sent event. */
export interface ServerEvent {
  id: string;
  type: string;
  data: Record<string, unknown>;
}

/**
 * Follow `GET /api/v1/events` until `signal` aborts, calling `onEvent` per event; reconnects after
 * `retry` ms (server-given, default 2 s) with `Last-Event-ID` so nothing is missed.
 */
export async function events(query: string, onEvent: (e: ServerEvent) => void, signal: AbortSignal, onState?: (connected: boolean) => void): Promise<void> {
  let lastId = '';
  let retry = 2000;
  while (!signal.aborted) {
    try {
      const headers: Record<string, string> = { accept: 'text/event-stream' };
      const token = getToken();
      if (token) headers.authorization = `Bearer ${token}`;
      if (lastId) headers['last-event-id'] = lastId;
      const res = await fetch(`/api/v1/events${query ? '?' + query : ''}`, { headers, signal, cache: 'no-store' });
      if (!res.ok || !res.body) throw new ApiError(res.status, `HTTP_${res.status}`, 'event stream refused');
      onState?.(true);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      let ev: { id?: string; type: string; data: string[] } = { type: 'message', data: [] };
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        buf += value;
        let nl: number;
        while ((nl = buf.search(/\r\n|\r|\n/)) >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + (buf.startsWith('\r\n', nl) ? 2 : 1));
          if (line === '') {
            if (ev.id !== undefined) lastId = ev.id;
            if (ev.data.length) {
              let data: Record<string, unknown> = {};
              try {
                data = JSON.parse(ev.data.join('\n')) as Record<string, unknown>;
              } catch {
                /* non-JSON payload: deliver empty data */
              }
              onEvent({ id: ev.id ?? lastId, type: ev.type, data });
            }
            ev = { type: 'message', data: [] };
            continue;
          }
          if (line.startsWith(':')) continue; // comment / heartbeat
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const val = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') ev.type = val;
          else if (field === 'data') ev.data.push(val);
          else if (field === 'id') ev.id = val;
          else if (field === 'retry' && /^\d+$/.test(val)) retry = Number(val);
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof ApiError && (err.status === 401 || err.status === 403)) {
        onState?.(false);
        return; // reconnecting cannot fix credentials
      }
    }
    onState?.(false);
    await new Promise((r) => setTimeout(r, retry));
  }
}
