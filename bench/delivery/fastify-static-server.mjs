// Node baseline for bench/delivery: a minimal @fastify/static server over the same asset tree,
// at the same URLs as Strom (`/v/<id>/<path>` → `<root>/<id>/<path>`).
//   node bench/delivery/fastify-static-server.mjs <assetsDir> <port>
import Fastify from 'fastify';
import fastifyStatic from '@fastify/static';

const [root, port] = process.argv.slice(2);
if (!root || !port) {
  console.error('usage: fastify-static-server.mjs <assetsDir> <port>');
  process.exit(2);
}
const app = Fastify({ logger: false });
await app.register(fastifyStatic, {
  root,
  prefix: '/v/',
  // Comparable response headers to Strom's for immutable segments.
  cacheControl: true,
  maxAge: '365d',
  immutable: true,
  etag: true,
  lastModified: true,
});
await app.listen({ host: '127.0.0.1', port: Number(port) });
const stop = () => app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
