/** A TCP port free on 127.0.0.1 right now, for test servers that must be told their port. */
import { createServer } from 'node:net';

/** Bind port 0, read the port the kernel chose, release it. Another process may take it before the caller binds. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
