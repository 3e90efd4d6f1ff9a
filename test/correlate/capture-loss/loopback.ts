/**
 * Real loopback HTTP traffic captured by a real tcpdump: a node:http server answering bodies of
 * mixed sizes (written in several chunks, so a response spans several segments), clients on
 * keep-alive connections and on one connection per request. Used to record the capture-loss
 * fixture (make-fixture.ts) and by the live tests.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

export const tcpdumpPath = spawnSync('sh', ['-c', 'command -v tcpdump'], { encoding: 'utf8' }).stdout.trim();

/** Why live capture cannot run here (null when it can); under CI=true the caller must fail instead. */
export function liveCaptureUnavailable(): string | null {
  if (!tcpdumpPath) return 'tcpdump is not installed';
  if (process.getuid?.() !== 0) return 'capturing needs root';
  return null;
}

/** Body of request `index`: its size cycles through small, medium and multi-chunk bodies. */
export function bodySize(index: number): number {
  return [120, 1500, 9000, 24_000, 400][index % 5]!;
}

/** An HTTP server answering GET /N with bodySize(N) bytes in up to four writes. */
export async function startServer(): Promise<{ server: http.Server; port: number }> {
  const server = http.createServer((request, response) => {
    const index = Number((request.url ?? '/0').slice(1)) || 0;
    const size = bodySize(index);
    // Content-Length, not chunked: the fixture's snaplen cuts bodies, and chunk sizes would go with them.
    response.writeHead(200, { 'content-type': 'text/plain', 'content-length': size });
    const chunks = size > 5000 ? 4 : 1;
    const chunk = Buffer.alloc(Math.ceil(size / chunks), 'x');
    let written = 0;
    const writeNext = (): void => {
      if (written >= size) {
        response.end();
        return;
      }
      const part = chunk.subarray(0, Math.min(chunk.length, size - written));
      written += part.length;
      response.write(part);
      // A pause between writes makes them separate segments.
      setTimeout(writeNext, 1);
    };
    writeNext();
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

export interface Capture {
  process: ChildProcess;
  log: () => string;
  /** Stops tcpdump (SIGINT, so it flushes and prints its statistics) and returns its stderr. */
  stop: () => Promise<string>;
}

/** Starts tcpdump on lo with `filter`, writing `file`; resolves once it listens. */
export async function startTcpdump(file: string, filter: string, extra: string[] = []): Promise<Capture> {
  const child = spawn(tcpdumpPath, [
    '-i',
    'lo',
    '-U',
    '--immediate-mode',
    '--nano',
    '-n',
    '-Z',
    'root',
    ...extra,
    '-w',
    file,
    filter,
  ]);
  let log = '';
  child.stderr.on('data', (chunk) => {
    log += chunk;
  });
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!log.includes('listening on')) {
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`tcpdump did not start: ${log}`);
    }
    await sleep(50);
  }
  return {
    process: child,
    log: () => log,
    stop: async () => {
      // Let the last packets reach the kernel buffer before tcpdump stops reading.
      await sleep(300);
      child.kill('SIGINT');
      await exited;
      return log;
    },
  };
}

/** GET /index on `agent` (keep-alive agent, or a fresh connection each time with `false`). */
export function get(port: number, index: number, agent: http.Agent | false): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: `/${index}`, agent }, (response) => {
      let bytes = 0;
      response.on('data', (chunk: Buffer) => {
        bytes += chunk.length;
      });
      response.on('end', () => resolve(bytes));
      response.on('error', reject);
    });
    request.on('error', reject);
  });
}

/** `keepAlive` requests over 3 keep-alive connections, then `fresh` on one connection each. */
export async function driveTraffic(port: number, keepAlive: number, fresh: number): Promise<void> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 3 });
  const pending: Promise<number>[] = [];
  for (let i = 0; i < keepAlive; i++) pending.push(get(port, i, agent));
  await Promise.all(pending);
  agent.destroy();
  for (let i = 0; i < fresh; i++) await get(port, keepAlive + i, false);
}
