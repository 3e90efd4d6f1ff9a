/**
 * node:http without its ES module facade: `import http from 'node:http'` builds the facade by
 * reading every export, and the WebSocket/EventSource getters among them load Node's bundled
 * undici (~50 ms of CPU at every start of `run`, measured). The CommonJS object reads them
 * only when used. Our servers (health, Prometheus) take createServer from here.
 */
export const { createServer } = process.getBuiltinModule('node:http');
