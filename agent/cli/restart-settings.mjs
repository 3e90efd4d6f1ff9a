/**
 * Process settings that only a fresh process can take are made by restarting once at start
 * (execve: same process id, so tini and the kubelet see nothing), for `wirespan run` (a
 * long-lived sidecar) and for `replay --otlp` (the span export, where the malloc tunables below
 * pay most). Each is left alone when the user set it (command line, NODE_OPTIONS,
 * environment); other commands are short and keep the defaults (a restart costs ~0.1 s of CPU
 * and of wall time). The Helm chart starts the agent with these settings already given, so a
 * deployed agent does not restart (test/ship/chart-process-settings.test.ts keeps them equal).
 * - `--max-semi-space-size=4` (`run` only: the sidecar's footprint): V8 sizes the main thread's
 *   young generation up to 3 x 16 MiB for throughput, which the agent keeps full while it
 *   catches up on a backlog. 4 MiB semi-spaces (the workers' young generation is capped the
 *   same way, worker-pipeline.ts) took the agent bench row's peak RSS down 50-75 MB at the same
 *   spans/s.
 * - `--initial-old-space-size=64`: with workers, the main thread's heap is small (~20 MB) and
 *   allocates little, so V8 sets its old-generation limit only the minimum step (8 MB) above
 *   it. Every OTLP request that arrives from a worker (a transferred ArrayBuffer) and grpc-js's
 *   framed copy of it count as external memory allocated since the last full GC, which V8 adds
 *   to the old generation: every ~8 MB of requests started a full GC, ~33 in the agent bench
 *   row (10 rotated files, 2 workers), their concurrent marking ~0.6 s of CPU on V8's
 *   background threads. A 64 MB floor under the limit (of every isolate: V8 has no per-isolate
 *   setting; the workers' one full GC each goes too) leaves room for ~40 MB of requests: 6-12
 *   full GCs, agent CPU -7 to -10 % with 2 workers (unchanged with none), peak RSS within
 *   the noise.
 * - GLIBC_TUNABLES keeping freed memory in the allocator: OTLP requests are buffers of up to
 *   3 MiB (made in the workers, and copied once more by grpc-js to frame them). glibc serves
 *   those with mmap and unmaps them at free, so the next request touches fresh pages, and a
 *   first touch costs ~11 us per 4 KiB page on the bench VM. With an mmap threshold of 32 MiB
 *   and a trim threshold of 256 MiB freed buffers are reused: `replay --otlp` on bench-1m,
 *   page faults 94-113k -> 51-53k and CPU 6.4-6.6 -> 4.9-5.2 s with no workers, 104-116k ->
 *   71-75k and -8 % CPU with 2 workers, same peak RSS. (musl ignores the variable.)
 */
/** Each V8 flag a restart adds, unless a flag of that name was given; `runOnly` ones for `run` alone. */
const kRestartV8Flags = [
  { flag: '--max-semi-space-size=4', runOnly: true },
  { flag: '--initial-old-space-size=64', runOnly: false },
];
const kMallocTunables = 'glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=268435456';

/** `run`, or `replay` exporting spans (`--otlp` with or without a URL). */
function takesExportSettings(argv) {
  const command = argv[2];
  if (command === 'run') return true;
  return command === 'replay' && argv.some((arg) => arg === '--otlp' || arg.startsWith('--otlp='));
}

/**
 * What a restart adds: the V8 flags and environment this command needs that the user did not
 * set (argv: process.argv, with the command at [2]); null when nothing is to be added.
 */
export function restartSettings(argv, execArgv, env) {
  if (!takesExportSettings(argv)) return null;
  const isRun = argv[2] === 'run';
  const given = [...execArgv, ...(env.NODE_OPTIONS ?? '').split(/\s+/)];
  const flags = kRestartV8Flags
    .filter(({ flag, runOnly }) => {
      if (runOnly && !isRun) return false;
      const name = flag.slice(0, flag.indexOf('='));
      return !given.some((arg) => arg.startsWith(name));
    })
    .map(({ flag }) => flag);
  const added = env.GLIBC_TUNABLES === undefined ? { GLIBC_TUNABLES: kMallocTunables } : {};
  if (flags.length === 0 && Object.keys(added).length === 0) return null;
  return { flags, env: added };
}
