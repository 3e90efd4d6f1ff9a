/**
 * Worker thread entry, plain JavaScript: the compile cache (see agent/cli/main.mjs), then the
 * worker itself. The cache is the main thread's directory (already checked to be private), or
 * none: never Node's default, a shared directory in the system temp directory.
 */
import module from 'node:module';
import { workerData } from 'node:worker_threads';

const dir = workerData?.compileCacheDir;
if (typeof dir === 'string' && dir !== '' && !module.getCompileCacheDir?.()) module.enableCompileCache?.(dir);
await import('./worker-main.ts');
