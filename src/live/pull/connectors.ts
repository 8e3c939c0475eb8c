/**
 * The pull protocols that exist, registered by scheme. A new protocol is a SourceConnector in
 * sources/ added here.
 */
import { ConnectorRegistry } from './connector/source-connector.js';
import { rtmpConnector } from './sources/rtmp-source.js';
import { srtConnector } from './sources/srt-source.js';

/** A registry with every connector Strom ships. */
export function defaultConnectors(): ConnectorRegistry {
  return new ConnectorRegistry().register(rtmpConnector).register(srtConnector);
}
