/**
 * The process logger: pino, JSON lines on stdout (pretty when STROM_LOG_PRETTY=1 and a TTY).
 * Request-scoped children carry `reqId`; live sessions carry `streamId`/`sessionId`.
 */
import { pino, type Logger } from 'pino';

/** Create the root logger at `level`, writing to stdout (fd 1) or, for CLI commands whose stdout is data, stderr (fd 2). */
export function createLogger(level: string, fd: 1 | 2 = 1): Logger {
  const pretty = process.env.STROM_LOG_PRETTY === '1' && (fd === 1 ? process.stdout : process.stderr).isTTY;
  const options = { level, base: { service: 'strom' }, timestamp: pino.stdTimeFunctions.isoTime };
  if (pretty) return pino({ ...options, transport: { target: 'pino-pretty', options: { destination: fd } } });
  return pino(options, pino.destination({ fd, sync: true }));
}

export type { Logger };
