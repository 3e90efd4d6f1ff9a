/**
 * A load generator with its own HTTP server, in a child process: prints {"port":N} once the
 * server listens, waits for a line on stdin, then runs `concurrency` keep-alive clients
 * requesting GET /0 (a 120-byte body) for `seconds`, and prints {"requests":N,"answered":N}.
 * Usage: node load-child.ts <seconds> <concurrency>
 */
import http from 'node:http';
import { get, startServer } from './loopback.ts';

const seconds = Number(process.argv[2] ?? 5);
const concurrency = Number(process.argv[3] ?? 16);
const { server, port } = await startServer();
process.stdout.write(`${JSON.stringify({ port })}\n`);
await new Promise((resolve) => process.stdin.once('data', resolve));
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const deadline = Date.now() + seconds * 1000;
let requests = 0;
let answered = 0;
async function client(): Promise<void> {
  while (Date.now() < deadline) {
    requests++;
    await get(port, 0, agent);
    answered++;
  }
}
await Promise.all(Array.from({ length: concurrency }, client));
agent.destroy();
server.close();
server.closeAllConnections();
process.stdout.write(`${JSON.stringify({ requests, answered })}\n`);
process.stdin.destroy();
