/**
 * CPU time this process has used (user + system, all threads), in milliseconds. The linear-time
 * guards of the hostile tests compare CPU time, not wall time: on a shared 2-core machine other
 * processes stretch wall time by whole scheduling slices, which a small run cannot absorb.
 */
export function cpuMillis(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
