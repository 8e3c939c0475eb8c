/**
 * The pull protocols that exist, registered by scheme. A new protocol is a SourceConnector in
 * sources/ added here. http(s) URLs go to HLS (`.m3u8`) or HTTP-FLV (`.flv`) by their path.
 */
import { ConnectorRegistry } from './connector/source-connector.js';
import { flvConnector } from './sources/flv-source.js';
import { hlsConnector } from './sources/hls-source.js';
import { rtmpConnector } from './sources/rtmp-source.js';
import { rtspConnector } from './sources/rtsp-source.js';
import { srtConnector } from './sources/srt-source.js';

/** A registry with every connector Strom ships. */
export function defaultConnectors(): ConnectorRegistry {
  return new ConnectorRegistry().register(rtspConnector).register(rtmpConnector).register(srtConnector).register(hlsConnector).register(flvConnector);
}
