/**
 * Kubernetes probes for `wirespan run`: GET /healthz answers 200 while the process runs;
 * GET /readyz answers 200 once every watched directory is being tailed and the exporter's
 * last export did not fail (503 with the reason otherwise).
 */
import http from 'node:http';

export interface Readiness {
  /** null when ready, else why not. */
  notReadyBecause(): string | null;
}

export function startHealthServer(host: string, port: number, readiness: Readiness): Promise<http.Server> {
  const server = http.createServer((request, response) => {
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
