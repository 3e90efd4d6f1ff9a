/**
 * Ignore rules (`--ignore-path`, `--ignore-user-agent`, `--ignore-cidr`, `--ignore-port`): a pair
 * that matches any rule makes no span and no latency point in the OpenTelemetry export; it is
 * counted in `wirespan.pairs.ignored`. JSONL output and `wirespan.pairs` still list it: the rules
 * are about noise in traces and dashboards, the record of what crossed the wire stays whole.
 *
 * - path: an HTTP request's path (query string not part of it). A pattern with `*` is a glob (`*`
 *   matches within one segment, `**` across segments, the whole path must match); without, it is
 *   a prefix on a segment boundary (`/healthz` matches `/healthz` and `/healthz/live`, not
 *   `/healthzz`);
 * - user agent: an HTTP User-Agent containing the text, case-insensitively (`kube-probe`);
 * - CIDR: the client or the server address is in it;
 * - port: the server port.
 * Everything is compiled once; a pair is tested with no allocation.
 */
import { NetworkSet } from '../../correlate/relay/networks.ts';
import type { PairData } from './span-mapper.ts';

export interface IgnoreRules {
  paths: readonly string[];
  userAgents: readonly string[];
  cidrs: readonly string[];
  ports: readonly number[];
}

export const kNoIgnoreRules: IgnoreRules = { paths: [], userAgents: [], cidrs: [], ports: [] };

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** One regex for every path rule, tested against the request target (query and fragment allowed after). */
function pathRegex(patterns: readonly string[]): RegExp | null {
  if (patterns.length === 0) return null;
  const alternatives = patterns.map((pattern) => {
    if (typeof pattern !== 'string' || !pattern.startsWith('/')) {
      throw new Error(`ignorePaths: ${JSON.stringify(pattern)} must start with "/"`);
    }
    if (!pattern.includes('*')) {
      const prefix = escapeRegex(pattern.endsWith('/') ? pattern.slice(0, -1) : pattern);
      return `${prefix}(?:/[^?#]*)?`;
    }
    return pattern
      .split('**')
      .map((part) => part.split('*').map(escapeRegex).join('[^/?#]*'))
      .join('[^?#]*');
  });
  return new RegExp(`^(?:${alternatives.join('|')})(?:[?#]|$)`);
}

export class PairIgnore {
  readonly #paths: RegExp | null;
  readonly #userAgents: RegExp | null;
  readonly #networks: NetworkSet | null;
  /** 1 at each ignored server port. */
  readonly #ports: Uint8Array | null;

  /** Throws an Error naming the option for a malformed rule. */
  constructor(rules: IgnoreRules) {
    this.#paths = pathRegex(rules.paths);
    this.#userAgents =
      rules.userAgents.length === 0 ? null : new RegExp(rules.userAgents.map(escapeRegex).join('|'), 'i');
    this.#networks = rules.cidrs.length === 0 ? null : new NetworkSet(rules.cidrs, 'ignoreCidrs');
    if (rules.ports.length === 0) {
      this.#ports = null;
    } else {
      this.#ports = new Uint8Array(65536);
      for (const port of rules.ports) {
        if (!Number.isInteger(port) || port < 0 || port > 65535) {
          throw new Error(`ignorePorts: ${JSON.stringify(port)} is not a port (0-65535)`);
        }
        this.#ports[port] = 1;
      }
    }
  }

  /** Whether any rule is configured (none: the builder skips the test). */
  get active(): boolean {
    return (
      this.#paths !== null || this.#userAgents !== null || this.#networks !== null || this.#ports !== null
    );
  }

  ignores(pair: PairData): boolean {
    if (this.#ports !== null && this.#ports[pair.serverPort] === 1) return true;
    const networks = this.#networks;
    if (networks !== null) {
      const v = pair.ipVersion;
      if (networks.contains(v, pair.server0, pair.server1, pair.server2, pair.server3)) return true;
      if (networks.contains(v, pair.client0, pair.client1, pair.client2, pair.client3)) return true;
    }
    const detail = pair.detail;
    if (detail === null) return false;
    const target = detail.target;
    if (this.#paths !== null && typeof target === 'string' && this.#paths.test(target)) return true;
    const userAgent = detail.user_agent;
    return this.#userAgents !== null && typeof userAgent === 'string' && this.#userAgents.test(userAgent);
  }
}
