/** The `--config FILE` of `wirespan run`: a YAML mapping of flag names (generated protocol flags included) to values. */
import fs from 'node:fs';
import module from 'node:module';
import { optionContext, UsageError } from './option-checks.ts';

/**
 * The YAML parser is loaded only when a --config is given: its ~70 modules were a sixth of every
 * start-up. yargs calls the config parser synchronously, hence require() (the package's Node build;
 * in the bundle, esbuild's require: agent/build-bundle.ts).
 */
const require = module.createRequire(import.meta.url);

/**
 * `--config FILE`: YAML whose keys are the flags (precedence: flags > WIRESPAN_* env > file >
 * defaults). Unknown keys fail like unknown flags (strict mode), naming the key.
 */
export function loadConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new UsageError(
      `cannot read --config ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`,
    );
  }
  const YAML: typeof import('yaml') = require('yaml');
  let parsed: unknown;
  try {
    parsed = YAML.parse(text);
  } catch (error) {
    throw new UsageError(`--config ${file} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (parsed === null || parsed === undefined) return {};
  if (typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UsageError(`--config ${file} must be a mapping of flag names to values`);
  }
  // Lists in YAML are natural for comma-separated flags (ports, CIDRs).
  const flags: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(parsed)) {
    flags[key] = Array.isArray(value) && key !== 'watch' && key !== 'http-route' ? value.join(',') : value;
  }
  optionContext.config = { file, values: flags };
  return flags;
}
