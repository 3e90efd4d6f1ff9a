/**
 * Growing the typed arrays that tables and buffers keep their numbers in (never per packet: only
 * when one is full, so the constructor lookup does not matter).
 */

type GrowableArray = Float64Array | Int32Array | Uint32Array | Uint8Array;

/** A copy of `array` with `length` elements: the old ones kept, the new ones `fill` (default 0). */
export function grown<T extends GrowableArray>(array: T, length: number, fill = 0): T {
  const next = new (array.constructor as new (length: number) => T)(length);
  next.set(array);
  if (fill !== 0) next.fill(fill, array.length);
  return next;
}
