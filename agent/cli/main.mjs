#!/usr/bin/env node
/**
 * The `wirespan` executable. It only turns on Node's compile cache before loading the CLI:
 * Node strips TypeScript types at every start, and with the cache (which also keeps the
 * stripped source) a start takes ~0.15 s of CPU instead of ~0.5 s (measured on the 2-core dev
 * machine). This file is plain JavaScript so that loading it does not start the type
 * stripper. Where the cache directory cannot be written (a read-only root filesystem), Node
 * runs without it. NODE_COMPILE_CACHE chooses the directory.
 */
import module from 'node:module';

module.enableCompileCache?.();
await import('./commands.ts');
