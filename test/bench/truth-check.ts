/**
 * Checks wirespan's JSONL pairs against gen-pcap's truth file.
 *
 * Truth lines are `req_index \t resp_index \t latency_ns \t kind` with 0-based packet
 * indices; wirespan's `source.*.packet` numbers are 1-based. A truth pair is found when
 * wirespan has a `matched` pair of the same protocol (dns/http/udp) whose request starts
 * in packet req_index + 1, whose response ends in packet resp_index + 1
 * (`source.response.last_packet ?? source.response.packet`) and whose duration_ns equals
 * latency_ns exactly. wirespan's `tcp` handshake pairs and unanswered requests are not
 * in the truth and are only counted.
 *
 * Memory: the truth is held in typed arrays indexed by row plus one Int32Array indexed by
 * request packet (4 bytes per capture packet); the JSONL (about 1.8 M lines for 5 M
 * packets) is streamed with readline and never held.
 */
import fs from 'node:fs';
import readline from 'node:readline';

const kindNames = ['dns', 'http', 'udp'] as const;
type Kind = (typeof kindNames)[number];

function kindCode(name: string): number {
  return (kindNames as readonly string[]).indexOf(name);
}

export interface Truth {
  count: number;
  countByKind: number[];
  /** Row of the truth pair whose request is packet i (0-based), or -1. */
  rowByRequest: Int32Array;
  requestPacket: Uint32Array;
  responsePacket: Uint32Array;
  latencyNs: Float64Array;
  kind: Uint8Array;
}

/** Parses the truth TSV (a few tens of MB) with a byte loop: no per-line strings. */
export function loadTruth(file: string, packets: number): Truth {
  const data = fs.readFileSync(file);
  let lines = 0;
  for (let i = 0; i < data.length; i++) if (data[i] === 0x0a) lines++;
  const requestPacket = new Uint32Array(lines);
  const responsePacket = new Uint32Array(lines);
  const latencyNs = new Float64Array(lines);
  const kind = new Uint8Array(lines);
  const rowByRequest = new Int32Array(packets).fill(-1);
  const countByKind = [0, 0, 0];
  let row = 0;
  let pos = 0;
  const number = (): number => {
    let value = 0;
    const start = pos;
    while (pos < data.length && data[pos]! >= 0x30 && data[pos]! <= 0x39)
      value = value * 10 + data[pos++]! - 0x30;
    if (pos === start || data[pos] !== 0x09) throw new Error(`${file}: bad truth line ${row + 1}`);
    pos++;
    return value;
  };
  while (pos < data.length) {
    const req = number();
    const resp = number();
    const latency = number();
    const end = data.indexOf(0x0a, pos);
    const stop = end < 0 ? data.length : end;
    const code = kindCode(data.toString('latin1', pos, stop));
    if (code < 0) throw new Error(`${file}: unknown kind on truth line ${row + 1}`);
    if (req >= packets || resp >= packets)
      throw new Error(`${file}: packet index beyond ${packets} on line ${row + 1}`);
    if (rowByRequest[req] !== -1) throw new Error(`${file}: request packet ${req} twice in the truth`);
    requestPacket[row] = req;
    responsePacket[row] = resp;
    latencyNs[row] = latency;
    kind[row] = code;
    rowByRequest[req] = row;
    countByKind[code]!++;
    row++;
    pos = stop + 1;
  }
  return { count: row, countByKind, rowByRequest, requestPacket, responsePacket, latencyNs, kind };
}

export interface CheckResult {
  truthPairs: number;
  /** Truth pairs found exactly once in wirespan's output. */
  found: number;
  missing: number;
  missingExamples: string[];
  /** wirespan matched dns/http/udp pairs that are not (or not exactly) a truth pair. */
  extra: number;
  /** Of the extra pairs: same request packet as a truth pair, other response/latency/protocol. */
  extraSameRequest: number;
  /** Of the extra pairs: a truth pair reported a second time. */
  extraDuplicate: number;
  extraExamples: string[];
  /** Line counts by `outcome protocol`, for the report. */
  lines: number;
  byOutcome: Map<string, number>;
}

interface SourceEdge {
  packet?: number;
  last_packet?: number;
}
interface PairLine {
  outcome?: string;
  protocol?: string;
  duration_ns?: number;
  source?: { request?: SourceEdge; response?: SourceEdge };
}

const checked = new Set<string>(kindNames);
const maxExamples = 5;

/** Streams `jsonl` and compares its matched dns/http/udp pairs with `truth`. */
export async function checkAgainstTruth(jsonl: string, truth: Truth): Promise<CheckResult> {
  const seen = new Uint8Array(truth.count);
  const result: CheckResult = {
    truthPairs: truth.count,
    found: 0,
    missing: 0,
    missingExamples: [],
    extra: 0,
    extraSameRequest: 0,
    extraDuplicate: 0,
    extraExamples: [],
    lines: 0,
    byOutcome: new Map(),
  };
  const input = readline.createInterface({
    input: fs.createReadStream(jsonl, { highWaterMark: 1 << 20 }),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  for await (const line of input) {
    if (line === '') continue;
    result.lines++;
    const pair = JSON.parse(line) as PairLine;
    const label = `${pair.outcome} ${pair.protocol}`;
    result.byOutcome.set(label, (result.byOutcome.get(label) ?? 0) + 1);
    if (pair.outcome !== 'matched' || !checked.has(pair.protocol ?? '')) continue;
    const request = (pair.source?.request?.packet ?? 0) - 1;
    const responseEdge = pair.source?.response;
    const response = (responseEdge?.last_packet ?? responseEdge?.packet ?? 0) - 1;
    const duration = pair.duration_ns ?? -1;
    const code = kindCode(pair.protocol ?? '');
    const row = request >= 0 && request < truth.rowByRequest.length ? truth.rowByRequest[request]! : -1;
    if (
      row >= 0 &&
      truth.responsePacket[row] === response &&
      truth.latencyNs[row] === duration &&
      truth.kind[row] === code
    ) {
      if (seen[row] === 0) {
        seen[row] = 1;
        result.found++;
        continue;
      }
      result.extraDuplicate++;
    } else if (row >= 0) {
      result.extraSameRequest++;
    }
    result.extra++;
    if (result.extraExamples.length < maxExamples) {
      let text = `${pair.protocol} req=${request} resp=${response} duration_ns=${duration}`;
      if (row >= 0)
        text += ` (truth: ${kindNames[truth.kind[row]!]} resp=${truth.responsePacket[row]} latency_ns=${truth.latencyNs[row]}${seen[row] ? ', already reported' : ''})`;
      result.extraExamples.push(text);
    }
  }
  for (let row = 0; row < truth.count; row++) {
    if (seen[row] === 1) continue;
    result.missing++;
    if (result.missingExamples.length < maxExamples)
      result.missingExamples.push(
        `${kindNames[truth.kind[row]!] as Kind} req=${truth.requestPacket[row]} resp=${truth.responsePacket[row]} latency_ns=${truth.latencyNs[row]}`,
      );
  }
  return result;
}
