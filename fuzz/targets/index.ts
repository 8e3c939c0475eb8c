/** Every fuzz target, by name, in the order `--all` runs them. */
import type { FuzzTarget } from '../engine/target.js';
import { amf0, rtmpChunk } from './rtmp.js';
import { flv } from './flv.js';
import { leanHttp, rangeHeaders } from './http.js';
import { rtpH264, sdp } from './webrtc.js';
import { cmcd, llHlsQuery, srtStreamId } from './query.js';
import { tusHeaders } from './tus.js';
import { tsDemux } from './ts.js';
import { srtPacket, srtReceiver } from './srt.js';
import { captions } from './captions.js';
import { fmp4 } from './fmp4.js';
import { m3u8 } from './hls.js';
import { rtspResponse } from './rtsp.js';

/** All targets. */
export const targets: readonly FuzzTarget[] = [rtmpChunk, amf0, flv, leanHttp, rangeHeaders, sdp, rtpH264, cmcd, llHlsQuery, tusHeaders, tsDemux, srtPacket, srtReceiver, srtStreamId, captions, m3u8, fmp4, rtspResponse];

/** The target called `name`, or undefined. */
export function targetNamed(name: string): FuzzTarget | undefined {
  return targets.find((t) => t.name === name);
}
