// The floor for the lean path: a bare node:net server that answers every request head it sees
// with one pre-built 200 response (the playlist's bytes behind fixed headers) — no parsing, no
// lookup, no metrics. bench/delivery/cpu-per-request.sh measures it beside nginx and Strom to show
// how much of Strom's per-request CPU is Node's socket machinery and how much is Strom's own code.
//
//   node bench/delivery/floor-server.mjs PORT BODY_FILE [PROCESSES]
// PROCESSES > 1 forks that many with node:cluster (round-robin: the primary accepts and hands
// connections over, as Strom's main does).
import cluster from 'node:cluster';
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import net from 'node:net';

const [port, file, processes = '1'] = process.argv.slice(2);
if (!port || !file) {
  console.error('usage: floor-server.mjs PORT BODY_FILE [PROCESSES]');
  process.exit(2);
}
const body = readFileSync(file);
const head = `HTTP/1.1 200 OK\r\nContent-Type: application/vnd.apple.mpegurl\r\nContent-Length: ${body.length}\r\nETag: "floor"\r\nCache-Control: public, max-age=1\r\nAccess-Control-Allow-Origin: *\r\nDate: ${new Date().toUTCString()}\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n`;
const response = Buffer.concat([Buffer.from(head, 'latin1'), body]);

if (Number(processes) > 1 && cluster.isPrimary) {
  cluster.schedulingPolicy = cluster.SCHED_RR;
  for (let i = 0; i < Number(processes); i++) cluster.fork();
} else {
  net.createServer({ noDelay: true }, (socket) => {
    socket.on('data', (d) => {
      // One response per complete head in the read (wrk does not pipeline, so usually one).
      for (let at = d.indexOf('\r\n\r\n'); at >= 0; at = d.indexOf('\r\n\r\n', at + 4)) socket.write(response);
    });
    socket.on('error', () => undefined);
  }).listen(Number(port), '127.0.0.1');
}
