/**
 * The process logger: pino, JSON lines on stdout (pretty when STROM_LOG_PRETTY=1 and a TTY).
 * Request-scoped children carry `reqId`; live sessions carry `streamId`/`sessionId`.
 */
import { pino, type Logger } from 'pino';

/** Create the root logger at `level`. */
export function createLogger(level: string): Logger {
  const pretty = process.env.STROM_LOG_PRETTY === '1' && process.stdout.isTTY;
  return pino({
    level,
    base: { service: 'strom' },
    timestamp: pino.stdTimeFunctions.isoTime,
    ...(pretty ? { transport: { target: 'pino-pretty' } } : {}),
  });
}

export type { Logger };
