/**
 * Measures the CPU each container of the chart's pod spends per 10k packets/s: a real tcpdump
 * (as the chart runs it: -U --nano -B, time rotation into a directory) capturing loopback HTTP
 * load, and `wirespan run` tailing that directory and exporting spans over OTLP/gRPC to a
 * counting receiver. CPU is read from /proc (user + system) over the load only, so start-up is
 * left out, and the agent's idle rate (measured before the load) is taken out of its share;
 * CPU-seconds per 10k packets = cores per 10k packets/s.
 * Run as root: node_modules/.bin/node test/tools/measure-capture-cpu.ts [seconds] [concurrency] [bufferKiB]
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { startReceiver } from '../bench/otlp-receiver.ts';
import { tcpdumpPath } from '../correlate/capture-loss/loopback.ts';

const seconds = Number(process.argv[2] ?? 10);
const concurrency = Number(process.argv[3] ?? 16);
const bufferKiB = Number(process.argv[4] ?? 16384);
const repoRoot = path.resolve(import.meta.dirname, '../..');
const ticks = 100; // USER_HZ on Linux

/** User + system CPU seconds of a process (all its threads) so far. */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-cpu-'));
const pcaps = path.join(dir, 'pcaps');
fs.mkdirSync(pcaps);
const load = spawn(process.execPath, [
  path.join(repoRoot, 'test/correlate/capture-loss/load-child.ts'),
  String(seconds),
  String(concurrency),
]);
const lines = readline.createInterface({ input: load.stdout });
const nextLine = (): Promise<Record<string, number>> =>
  new Promise((resolve) => lines.once('line', (line) => resolve(JSON.parse(line))));
const { port } = await nextLine();
const receiver = await startReceiver();
const tcpdump = spawn(tcpdumpPath, [
  '-i',
  'lo',
  '-nn',
  '-U',
  '--nano',
  '-p',
  '-s',
  '262144',
  '-B',
  String(bufferKiB),
  '-G',
  '2',
  '-Z',
  'root',
  '-w',
  path.join(pcaps, 'cap-%Y%m%d%H%M%S.pcap'),
  `tcp port ${port}`,
]);
let tcpdumpLog = '';
tcpdump.stderr.on('data', (chunk) => {
  tcpdumpLog += chunk;
});
const agent = spawn(
  process.execPath,
  [
    path.join(repoRoot, 'agent/cli/main.mjs'),
    'run',
    '--watch',
    pcaps,
    '--state-dir',
    path.join(dir, 'state'),
    '--on-done',
    'delete',
    '--grace',
    '0.5',
    '--health-port',
    '0',
    '--stats-interval',
    '0',
    '--otlp',
  ],
  {
    env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: receiver.grpcUrl },
  },
);
let agentLog = '';
agent.stderr.on('data', (chunk) => {
  agentLog += chunk;
});
// Start-up (module compilation, the first export) settles first.
await sleep(10_000);
// The agent's idle cost (watching, metrics export) over the same time is not per packet: taken out.
const idleStart = cpuSeconds(agent.pid!);
const idleMillis = 10_000;
await sleep(idleMillis);
const idleCores = (cpuSeconds(agent.pid!) - idleStart) / (idleMillis / 1000);
const tcpdumpStart = cpuSeconds(tcpdump.pid!);
const agentStart = cpuSeconds(agent.pid!);
const loadStarted = Date.now();
load.stdin.write('go\n');
const { requests } = await nextLine();
// The agent catches up: spans stop arriving (grace + rotation + export interval).
let spans = -1;
while (receiver.spans !== spans) {
  spans = receiver.spans;
  await sleep(4000);
}
const tcpdumpCpu = cpuSeconds(tcpdump.pid!) - tcpdumpStart;
const measuredMillis = Date.now() - loadStarted;
const agentCpu = cpuSeconds(agent.pid!) - agentStart - (idleCores * measuredMillis) / 1000;
tcpdump.kill('SIGINT');
await new Promise((resolve) => tcpdump.on('close', resolve));
agent.kill('SIGTERM');
await new Promise((resolve) => agent.on('close', resolve));
await receiver.close();
const captured = Number(/(\d+) packets captured/.exec(tcpdumpLog)?.[1]);
const dropped = Number(/(\d+) packets dropped by kernel/.exec(tcpdumpLog)?.[1]);
const per10k = (cpu: number) => ((cpu * 10_000) / captured).toFixed(3);
process.stdout.write(
  `${JSON.stringify({
    seconds,
    concurrency,
    bufferKiB,
    requests,
    spans: receiver.spans,
    packetsCaptured: captured,
    droppedByKernel: dropped,
    packetsPerSecond: Math.round(captured / seconds),
    tcpdumpCpuSeconds: tcpdumpCpu,
    agentCpuSeconds: agentCpu,
    agentGrossCpuSeconds: agentCpu + (idleCores * measuredMillis) / 1000,
    agentIdleCores: idleCores,
    tcpdumpCoresPer10kPps: per10k(tcpdumpCpu),
    agentCoresPer10kPps: per10k(agentCpu),
    load: os.loadavg()[0],
  })}\n`,
);
if (!agentLog.includes('"level"') && agentLog.length > 0) process.stderr.write(agentLog.slice(-2000));
fs.rmSync(dir, { recursive: true, force: true });
