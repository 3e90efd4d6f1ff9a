/**
 * Reading a pair's detail in the span mapping: details are plain JSON (possibly structured
 * clones from a worker), so empty strings and non-integers count as absent.
 */

export function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

export function int(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) ? value : null;
}
