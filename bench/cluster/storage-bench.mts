/**
 * Helpers of bench/cluster/storage-delivery.sh (one entry, three commands):
 *   s3rver <dir> <port>                  run an s3rver with bucket "strom" until killed (test/helpers/s3.ts adds nothing needed here)
 *   publish <endpoint> <dataDir>         publish every asset of <dataDir>/assets to the bucket through S3Storage.publish
 *   ttfb <endpoint> <stromUrl> <list> <n> [offset]
 *                                        cold time to first byte: for n segment paths of <list> starting at <offset>
 *                                        (never requested from that Strom before), a direct GetObject through the AWS SDK
 *                                        and a GET through Strom, alternating which goes first; prints one BENCH_JSON line
 */
import http from 'node:http';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { testConfig } from '../../src/config.js';
import { S3Storage, s3ClientConfig } from '../../src/storage/s3-storage.js';

const [cmd, ...args] = process.argv.slice(2);
const settings = (endpoint: string) => testConfig({
  'storage.kind': 's3', 'storage.s3.endpoint': endpoint, 'storage.s3.bucket': 'strom', 'storage.s3.accessKeyId': 'S3RVER',
  'storage.s3.secretAccessKey': 'S3RVER', 'storage.s3.forcePathStyle': true,
}).storage.s3;

/** Median and 90th percentile in ms. */
function summary(xs: number[]): { p50: number; p90: number; mean: number } {
  const s = [...xs].sort((a, b) => a - b);
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { p50: at(0.5), p90: at(0.9), mean: s.reduce((a, b) => a + b, 0) / s.length };
}

/** Time to the first body byte of a GET through Strom (fresh connection, as a cold player's first request). */
function stromTtfb(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    http.get(url, { agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`${url}: HTTP ${res.statusCode}`));
      res.once('data', () => {
        const ms = performance.now() - t0;
        res.resume();
        res.once('end', () => resolve(ms));
      });
    }).on('error', reject);
  });
}

/** Time to the first body byte of a GetObject through the SDK (its keep-alive client, as Strom's is). */
async function sdkTtfb(client: S3Client, key: string): Promise<number> {
  const t0 = performance.now();
  const out = await client.send(new GetObjectCommand({ Bucket: 'strom', Key: key }));
  const body = out.Body as NodeJS.ReadableStream;
  return new Promise((resolve, reject) => {
    body.once('data', () => {
      const ms = performance.now() - t0;
      body.resume();
      body.once('end', () => resolve(ms));
    });
    body.once('error', reject);
  });
}

if (cmd === 's3rver') {
  const [dir, port] = args as [string, string];
  mkdirSync(dir, { recursive: true });
  const server = new S3rver({ address: '127.0.0.1', port: Number(port), silent: true, directory: dir, configureBuckets: [{ name: 'strom', configs: [] }] });
  await server.run();
  console.log(`s3rver listening on 127.0.0.1:${port}`);
} else if (cmd === 'publish') {
  const [endpoint, dataDir] = args as [string, string];
  const storage = new S3Storage(settings(endpoint));
  const assets = path.join(dataDir, 'assets');
  for (const id of readdirSync(assets)) {
    if ((await storage.list(`assets/${id}/`)).length > 0) continue;
    // publish moves nothing on s3 (it uploads), so the local folder stays for the fs node.
    await storage.publish(path.join(assets, id), `assets/${id}/`);
    console.error(`published assets/${id}/`);
  }
  storage.close();
} else if (cmd === 'ttfb') {
  const [endpoint, stromUrl, list, n, offset] = args as [string, string, string, string, string | undefined];
  const paths = readFileSync(list, 'utf8').split('\n').filter(Boolean).slice(Number(offset ?? 0), Number(offset ?? 0) + Number(n));
  const client = new S3Client(s3ClientConfig(settings(endpoint)));
  const direct: number[] = [];
  const strom: number[] = [];
  await sdkTtfb(client, paths[0]!.replace(/^\/v\//, 'assets/')); // open the SDK's connection first
  for (const [i, p] of paths.entries()) {
    const key = p.replace(/^\/v\//, 'assets/');
    await sdkTtfb(client, key); // the object's bytes in s3rver's page cache for both sides
    if (i % 2 === 0) {
      direct.push(await sdkTtfb(client, key));
      strom.push(await stromTtfb(stromUrl + p));
    } else {
      strom.push(await stromTtfb(stromUrl + p));
      direct.push(await sdkTtfb(client, key));
    }
  }
  client.destroy();
  console.log(`BENCH_JSON ${JSON.stringify({ n: paths.length, stromMs: summary(strom), directGetObjectMs: summary(direct) })}`);
} else {
  console.error('usage: storage-bench.mts s3rver <dir> <port> | publish <endpoint> <dataDir> | ttfb <endpoint> <stromUrl> <list> <n> [offset]');
  process.exit(2);
}
