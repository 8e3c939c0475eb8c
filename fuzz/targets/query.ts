/**
 * Small text grammars read from URLs and headers: CMCD (CTA-5004 §3), the LL-HLS blocking-request
 * query (RFC 8216bis §6.2.5.2: _HLS_msn, _HLS_part, _HLS_skip) and the SRT stream id (SRT access
 * control "#!::" syntax or publish:/read: shorthand).
 */
import type { IncomingMessage } from 'node:http';
import { cmcdOf, type Cmcd } from '../../src/observability/cmcd.js';
import { parseBlockingQuery } from '../../src/live/formats/hls/ll-hls-blocking.js';
import { parseStreamId } from '../../src/live/srt/stream-id.js';
import { invariant, type FuzzTarget } from '../engine/target.js';

const NUMERIC = ['br', 'bl', 'd', 'dl', 'mtp', 'pr', 'tb', 'ltc'] as const;
const STRINGS = ['cid', 'sid', 'ot', 'st'] as const;
/** Every key parseCmcdInto may set (CTA-5004 §3.3 plus v2 ltc/rtp/nrr/nor/sf/v). */
const ALL = new Set<string>([...NUMERIC, ...STRINGS, 'bs', 'su', 'rtp', 'nrr', 'nor', 'sf', 'v']);

/** CMCD from a query and the four headers: only known keys, numbers finite ≥ 0, strings ≤ 128 chars. */
export const cmcd: FuzzTarget = {
  name: 'cmcd',
  checks: 'never throws; numeric keys are finite and ≥ 0, string keys ≤ 128 characters, booleans are booleans, no key outside the CMCD set (no prototype pollution)',
  dict: ['CMCD=', 'br=3200', 'bl=', 'sid="', '"', ',', 'su', 'bs', '(', ')', '%22', '%', '\\', '__proto__=1', 'ot=v', 'mtp=1e309', '\n'],
  maxLen: 4096,
  run(input) {
    const [url = '', ...headers] = input.toString('latin1').split('\n');
    const names = ['cmcd-request', 'cmcd-object', 'cmcd-status', 'cmcd-session'];
    const h: Record<string, string> = {};
    headers.slice(0, 4).forEach((v, i) => { h[names[i]!] = v; });
    const out = cmcdOf({ url: `/v/a/x.m4s?${url}`, headers: h } as unknown as IncomingMessage);
    invariant(Object.getPrototypeOf({}) === Object.prototype && !('br' in Object.prototype), 'prototype polluted');
    if (out === null) return;
    const o = out as Cmcd & Record<string, unknown>;
    for (const k of Object.keys(o)) invariant(ALL.has(k), `unknown key ${JSON.stringify(k)} kept`);
    for (const k of NUMERIC) if (o[k] !== undefined) invariant(Number.isFinite(o[k]) && o[k]! >= 0, `${k}=${String(o[k])}`);
    for (const k of STRINGS) if (o[k] !== undefined) invariant(typeof o[k] === 'string' && o[k]!.length <= 128, `${k} of ${String(o[k]).length} chars`);
    for (const k of ['bs', 'su'] as const) if (o[k] !== undefined) invariant(typeof o[k] === 'boolean', `${k} not boolean`);
  },
};

/** LL-HLS blocking query: an error, or integers within 10 digits and a boolean skip. */
export const llHlsQuery: FuzzTarget = {
  name: 'll-hls-query',
  checks: 'parseBlockingQuery returns {error} or msn/part safe non-negative integers (part only with msn) and a boolean skip',
  dict: ['_HLS_msn=', '_HLS_part=', '_HLS_skip=YES', '_HLS_skip=v2', '&', '=', '9999999999', '-1', '1e3', '%20'],
  maxLen: 1024,
  run(input) {
    const params = new URLSearchParams(input.toString('latin1'));
    const q: Record<string, string | string[]> = {};
    for (const k of new Set(params.keys())) {
      const all = params.getAll(k);
      q[k] = all.length > 1 ? all : all[0]!;
    }
    const r = parseBlockingQuery(q);
    if ('error' in r) {
      invariant(typeof r.error === 'string' && r.error.length > 0, 'empty error');
      return;
    }
    for (const v of [r.msn, r.part]) if (v !== undefined) invariant(Number.isSafeInteger(v) && v >= 0, `msn/part ${v}`);
    invariant(r.part === undefined || r.msn !== undefined, '_HLS_part accepted without _HLS_msn');
  },
};

/** SRT stream ids: a request with a non-empty name and a known mode, or an error with an SRT_REJX code. */
export const srtStreamId: FuzzTarget = {
  name: 'srt-streamid',
  checks: 'parseStreamId returns a request with mode publish or request and a non-empty name, or an error with code 1400/1405',
  dict: ['#!::', 'r=', 'm=publish', 'm=request', ',', 'token=', 'backup=1', 'publish:', 'read:', '?', '&', '='],
  maxLen: 512,
  run(input) {
    const r = parseStreamId(input.toString('utf8'));
    if ('error' in r) invariant(r.code === 1400 || r.code === 1405, `error code ${r.code}`);
    else invariant((r.mode === 'publish' || r.mode === 'request') && r.name.length > 0, `request ${JSON.stringify(r)}`);
  },
};
