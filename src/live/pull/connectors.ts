/**
 * The pull protocols that exist, registered by scheme. A new protocol is a SourceConnector in
 * sources/ added here.
 */
import { ConnectorRegistry } from './connector/source-connector.js';

/** A registry with every connector Strom ships. */
export function defaultConnectors(): ConnectorRegistry {
  return new ConnectorRegistry();
}
