/**
 * Allocation checks (STYLE.md 15d) with the sampling heap profiler, which also counts objects the
 * GC already collected: what a hot path allocates, not what it retains.
 */
import { Session } from 'node:inspector/promises';

/** Bytes the sampling heap profiler sees allocated by functions of files ending in `file` while `run` runs. */
export async function sampledBytes(file: string, run: () => void): Promise<number> {
  const session = new Session();
  session.connect();
  await session.post('HeapProfiler.enable');
  await session.post('HeapProfiler.startSampling', {
    samplingInterval: 1024,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  run();
  const { profile } = await session.post('HeapProfiler.stopSampling');
  session.disconnect();
  let bytes = 0;
  const visit = (node: (typeof profile)['head']): void => {
    if (node.callFrame.url.endsWith(file)) bytes += node.selfSize;
    for (const child of node.children) visit(child);
  };
  visit(profile.head);
  return bytes;
}
