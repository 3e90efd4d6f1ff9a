/**
 * IPv4/IPv6 network sets for the relay matcher. Parsed once from configuration, where bad input
 * throws an Error naming the option and the offending text; afterwards contains() tests the
 * decoder's address words per packet with no allocation.
 */
import { isIPv4, isIPv6 } from 'node:net';

export interface Cidr {
  ipVersion: 4 | 6;
  /** Network address as big-endian 32-bit words (IPv4 in word 0), host bits cleared. */
  words: [number, number, number, number];
  prefixLength: number;
}

/** Big-endian words of an IPv4 or IPv6 address text, or null when it is not one. */
export function parseAddress(
  text: string,
): { ipVersion: 4 | 6; words: [number, number, number, number] } | null {
  if (isIPv4(text)) {
    const [a = 0, b = 0, c = 0, d = 0] = text.split('.').map(Number);
    return { ipVersion: 4, words: [((a << 24) | (b << 16) | (c << 8) | d) >>> 0, 0, 0, 0] };
  }
  // Node accepts zone ids ("fe80::1%eth0"); a zone names an interface, not a network.
  if (!(isHexIPv6(text) || isIPv6(text)) || text.includes('%')) return null;
  const groups = ipv6Groups(text);
  const words: [number, number, number, number] = [0, 0, 0, 0];
  for (let i = 0; i < 4; i++) words[i] = (((groups[2 * i] ?? 0) << 16) | (groups[2 * i + 1] ?? 0)) >>> 0;
  return { ipVersion: 6, words };
}

/**
 * IPv6 text of hex groups only (no dotted IPv4 tail, no zone): 8 groups, or at most 7 around one
 * "::", each of 1-4 hex digits; a subset of what net.isIPv6 accepts, checked first because
 * isIPv6's first call compiles a large regular expression (~12 ms of every thread's start, for
 * the default local networks).
 */
function isHexIPv6(text: string): boolean {
  const gap = text.indexOf('::');
  if (gap < 0) return hexGroups(text) === 8;
  if (text.indexOf('::', gap + 1) >= 0) return false;
  const head = gap === 0 ? 0 : hexGroups(text.slice(0, gap));
  const tail = gap + 2 === text.length ? 0 : hexGroups(text.slice(gap + 2));
  return head >= 0 && tail >= 0 && head + tail <= 7;
}

/** How many ':'-separated groups of 1-4 hex digits `part` is, or -1 when it is not only such groups. */
function hexGroups(part: string): number {
  let groups = 1;
  let digits = 0;
  for (let i = 0; i < part.length; i++) {
    const c = part.charCodeAt(i);
    if (c === 0x3a) {
      if (digits === 0) return -1;
      groups++;
      digits = 0;
    } else if (isHexDigit(c) && digits < 4) {
      digits++;
    } else {
      return -1;
    }
  }
  return digits === 0 ? -1 : groups;
}

function isHexDigit(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

/** The eight 16-bit groups of a valid IPv6 text (with "::" and a dotted IPv4 tail expanded). */
function ipv6Groups(text: string): number[] {
  const toGroups = (part: string): number[] => {
    if (part === '') return [];
    const groups: number[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const v4 = parseAddress(piece)?.words[0] ?? 0;
        groups.push(v4 >>> 16, v4 & 0xffff);
      } else {
        groups.push(Number.parseInt(piece, 16));
      }
    }
    return groups;
  };
  const gap = text.indexOf('::');
  if (gap < 0) return toGroups(text);
  const head = toGroups(text.slice(0, gap));
  const tail = toGroups(text.slice(gap + 2));
  return [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
}

/**
 * Parses "10.0.0.0/8" or "fd00::/8". A bare address is one host (/32 or /128); host bits beyond
 * the prefix are cleared ("10.1.2.3/8" is 10.0.0.0/8), as `ip route` and Go's ParseCIDR do.
 */
export function parseCidr(text: string, option = 'CIDR'): Cidr {
  if (typeof text !== 'string') {
    throw new Error(
      `${option}: ${JSON.stringify(text)} is not a CIDR string (expected e.g. 10.0.0.0/8 or fd00::/8)`,
    );
  }
  const slash = text.indexOf('/');
  const addressText = (slash < 0 ? text : text.slice(0, slash)).trim();
  const address = parseAddress(addressText);
  if (address === null) {
    throw new Error(
      `${option}: "${text}" is not a CIDR: "${addressText}" is not an IPv4 or IPv6 address (expected e.g. 10.0.0.0/8 or fd00::/8)`,
    );
  }
  const maxPrefix = address.ipVersion === 4 ? 32 : 128;
  const prefixText = slash < 0 ? String(maxPrefix) : text.slice(slash + 1).trim();
  const prefixLength = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
  if (!(prefixLength <= maxPrefix)) {
    throw new Error(
      `${option}: "${text}" is not a CIDR: the prefix length must be an integer 0..${maxPrefix} for IPv${address.ipVersion}`,
    );
  }
  const words = address.words;
  for (let i = 0; i < 4; i++) words[i] = (words[i]! & prefixMask(prefixLength, i)) >>> 0;
  return { ipVersion: address.ipVersion, words, prefixLength };
}

/** Mask of address word `index` (0..3) for a prefix length. */
function prefixMask(prefixLength: number, index: number): number {
  const bits = Math.min(32, Math.max(0, prefixLength - 32 * index));
  return bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
}

/** A set of networks, tested per packet. */
export class NetworkSet {
  /** Per network: 4 network words then 4 mask words. */
  readonly #words: Uint32Array;
  readonly #versions: Uint8Array;

  /** Throws an Error naming `option` for an empty list or a bad CIDR. */
  constructor(cidrs: readonly string[], option: string) {
    if (!Array.isArray(cidrs)) {
      throw new Error(
        `${option} must be a list of CIDRs (e.g. ["10.0.0.0/8", "fd00::/8"]), got ${JSON.stringify(cidrs)}`,
      );
    }
    if (cidrs.length === 0) {
      throw new Error(`${option} is empty: list at least one network (e.g. 10.0.0.0/8 or fd00::/8)`);
    }
    this.#words = new Uint32Array(cidrs.length * 8);
    this.#versions = new Uint8Array(cidrs.length);
    cidrs.forEach((text, n) => {
      const cidr = parseCidr(text, option);
      this.#versions[n] = cidr.ipVersion;
      for (let i = 0; i < 4; i++) {
        this.#words[n * 8 + i] = cidr.words[i]!;
        this.#words[n * 8 + 4 + i] = prefixMask(cidr.prefixLength, i);
      }
    });
  }

  /** Whether the address (decoder words, IPv4 in word 0) lies in one of the networks. */
  contains(ipVersion: number, w0: number, w1: number, w2: number, w3: number): boolean {
    const words = this.#words;
    const versions = this.#versions;
    for (let n = 0; n < versions.length; n++) {
      if (versions[n] !== ipVersion) continue;
      const at = n * 8;
      if (
        (w0 & words[at + 4]!) >>> 0 === words[at] &&
        (w1 & words[at + 5]!) >>> 0 === words[at + 1] &&
        (w2 & words[at + 6]!) >>> 0 === words[at + 2] &&
        (w3 & words[at + 7]!) >>> 0 === words[at + 3]
      ) {
        return true;
      }
    }
    return false;
  }
}
