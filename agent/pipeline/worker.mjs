/** Worker thread entry, plain JavaScript: the compile cache (see agent/cli/main.mjs), then the worker itself. */
import module from 'node:module';

module.enableCompileCache?.();
await import('./worker-main.ts');
