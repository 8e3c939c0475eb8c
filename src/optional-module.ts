/**
 * Dependencies only some deployments use — the AWS SDK and tus's S3 store (`storage.kind=s3`),
 * ioredis (cluster mode), the OTLP exporter (tracing) — are loaded the first time they are needed
 * instead of at start: importing them costs ~0.6 s of CPU on every start (measured with
 * `process.cpuUsage()` around the imports), which the embedded default never uses and which every
 * test file and every restarted node paid.
 *
 * They are CommonJS packages, so `require` loads them synchronously, where a constructor needs
 * them; Node's module cache makes every later call a lookup. Types come from `import type`.
 */
import { createRequire } from 'node:module';

const requireFromHere = createRequire(import.meta.url);

/** The package `id`, loaded on the first call. */
export function optionalModule<T>(id: string): T {
  return requireFromHere(id) as T;
}
