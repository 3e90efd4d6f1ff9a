/** A description of the machine the benchmark ran on, printed above the table. */
import fs from 'node:fs';
import os from 'node:os';

export interface Machine {
  cpu: string;
  cores: number;
  /** CPU quota from cgroup v2 cpu.max, e.g. "2 CPUs", when limited. */
  cpuQuota: string | null;
  memoryGiB: number;
  kernel: string;
  node: string;
  loadAverage: [number, number, number];
}

function cpuModel(): string {
  try {
    const text = fs.readFileSync('/proc/cpuinfo', 'utf8');
    const model = /^model name\s*:\s*(.+)$/m.exec(text)?.[1]?.trim();
    const mhz = /^cpu MHz\s*:\s*([\d.]+)$/m.exec(text)?.[1];
    if (model) return mhz ? `${model} @ ${Math.round(Number(mhz))} MHz` : model;
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

function cgroupQuota(): string | null {
  try {
    const [quota, period] = fs.readFileSync('/sys/fs/cgroup/cpu.max', 'utf8').trim().split(/\s+/);
    if (quota === undefined || quota === 'max' || period === undefined) return null;
    return `${(Number(quota) / Number(period)).toFixed(2)} CPUs (cgroup cpu.max)`;
  } catch {
    return null;
  }
}

export function describeMachine(nodeVersion: string): Machine {
  const load = os.loadavg();
  return {
    cpu: cpuModel(),
    cores: os.availableParallelism(),
    cpuQuota: cgroupQuota(),
    memoryGiB: os.totalmem() / 2 ** 30,
    kernel: `${os.type()} ${os.release()} ${os.arch()}`,
    node: nodeVersion,
    loadAverage: [load[0] ?? 0, load[1] ?? 0, load[2] ?? 0],
  };
}

export function formatMachine(m: Machine): string[] {
  return [
    `machine: ${m.cpu}, ${m.cores} cores${m.cpuQuota ? ` (${m.cpuQuota})` : ''}, ${m.memoryGiB.toFixed(1)} GiB RAM, ${m.kernel}`,
    `node:    ${m.node}`,
    `load:    ${m.loadAverage.map((v) => v.toFixed(2)).join(' ')} (1/5/15 min, at start)`,
  ];
}
