/** Parses `--output none|jsonl[:PATH]|text[:PATH]`. */

export interface OutputSpec {
  format: 'none' | 'jsonl' | 'text';
  /** null = stdout */
  path: string | null;
}

export function parseOutputSpec(value: string): OutputSpec {
  const colon = value.indexOf(':');
  const format = colon < 0 ? value : value.slice(0, colon);
  const path = colon < 0 ? null : value.slice(colon + 1);
  if (format !== 'none' && format !== 'jsonl' && format !== 'text') {
    throw new Error(`--output must be none, jsonl[:PATH] or text[:PATH], got "${value}"`);
  }
  if (format === 'none' && path !== null) throw new Error('--output none takes no path');
  if (path === '') throw new Error(`--output ${format}: the path after ":" is empty`);
  return { format, path: path === '-' ? null : path };
}
