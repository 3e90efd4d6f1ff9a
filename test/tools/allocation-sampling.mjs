/**
 * Bytes allocated per function over a whole run, objects the GC already collected included
 * (`--heap-prof` shows only what is still alive at exit). Load it into the process to measure:
 *
 *   ALLOCATION_PROFILE=/tmp/alloc.heapprofile node_modules/.bin/node \
 *     --import ./test/tools/allocation-sampling.mjs agent/cli/main.mjs replay ...
 *
 * then open the .heapprofile in Chrome DevTools (Memory) or sum it with
 * `node test/tools/allocation-sampling.mjs /tmp/alloc.heapprofile` (top self bytes).
 * Main thread only; give `--workers 0` to see every stage.
 */
import fs from 'node:fs';
import inspector from 'node:inspector';
import { fileURLToPath } from 'node:url';

const kSamplingIntervalBytes = 32768;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  printTop(process.argv[2], Number(process.argv[3] ?? 30));
} else {
  const output = process.env.ALLOCATION_PROFILE ?? 'allocation.heapprofile';
  const session = new inspector.Session();
  session.connect();
  session.post('HeapProfiler.enable');
  session.post('HeapProfiler.startSampling', {
    samplingInterval: kSamplingIntervalBytes,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  // The in-thread session answers synchronously, so the profile is written before exit.
  process.on('exit', () =>
    session.post('HeapProfiler.stopSampling', (error, result) => {
      if (error) process.stderr.write(`allocation sampling: ${error.message}\n`);
      else fs.writeFileSync(output, JSON.stringify(result.profile));
    }),
  );
}

function printTop(file, count) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const bytesByFunction = new Map();
  let total = 0;
  const visit = (node) => {
    const frame = node.callFrame;
    const name = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*\/(agent|node_modules)\//, '$1/')}:${frame.lineNumber + 1}`;
    total += node.selfSize;
    if (node.selfSize > 0) bytesByFunction.set(name, (bytesByFunction.get(name) ?? 0) + node.selfSize);
    for (const child of node.children) visit(child);
  };
  visit(profile.head);
  console.log(`${(total / 1e6).toFixed(1)} MB allocated in all`);
  for (const [name, bytes] of [...bytesByFunction].sort((a, b) => b[1] - a[1]).slice(0, count))
    console.log(`${(bytes / 1e6).toFixed(1).padStart(8)} MB  ${name}`);
}
