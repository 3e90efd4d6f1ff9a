/**
 * Kubernetes probes for `wirespan run`: GET /healthz answers 200 while the process runs;
 * GET /readyz answers 200 once every watched directory is being tailed and the exporter's
 * last export did not fail (503 with the reason otherwise). GET and HEAD only (405 otherwise).
 * They listen on --health-host (default 0.0.0.0: kubelet probes reach a hostNetwork pod on the
 * node's address) and say nothing but ok/ready/not ready and why.
 */
import type http from 'node:http';
import { createServer } from '../shared/node-http.ts';

export interface Readiness {
  /** null when ready, else why not. */
  notReadyBecause(): string | null;
}

export function startHealthServer(host: string, port: number, readiness: Readiness): Promise<http.Server> {
  const server = createServer((request, response) => {
    // Read-only endpoints: anything but GET and HEAD (Node sends no body for HEAD) is refused.
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      response
        .writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD' })
        .end('method not allowed\n');
      return;
    }
    const url = request.url ?? '/';
    if (url === '/healthz') {
      response.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (url === '/readyz') {
      const reason = readiness.notReadyBecause();
      if (reason === null) response.writeHead(200, { 'content-type': 'text/plain' }).end('ready\n');
      else response.writeHead(503, { 'content-type': 'text/plain' }).end(`not ready: ${reason}\n`);
      return;
    }
    response.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
