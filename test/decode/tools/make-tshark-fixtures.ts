/**
 * Regenerates the decoder's tshark oracle fixtures (run by hand; tests only read the output):
 *
 *   node test/decode/tools/make-tshark-fixtures.ts
 *
 * Needs tshark on PATH (Debian: apt-get install tshark). Writes
 * - test/fixtures/decode/tshark-fields.tsv: per-packet fields for every classic pcap in
 *   CORPUS_DIRS, in sections headed "@ <relative path>";
 * - test/fixtures/decode/tshark-ipv6-text.tsv: how tshark prints tricky IPv6 addresses
 *   (hex bytes, then tshark's text), from a raw-IPv6 capture this script builds.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { concat, ipv6, ipv6Bytes, le32, udp } from '../packets.ts';
import { classicPcapFiles } from '../pcap-records.ts';

const CORPUS_DIRS = ['linktypes', 'dns', 'http', 'tcp', 'formats'] as const;
const TSHARK_FIELDS = [
  'frame.number',
  'ip.src',
  'ip.dst',
  'ipv6.src',
  'ipv6.dst',
  'ip.flags.mf',
  'ip.frag_offset',
  'ipv6.fraghdr.offset',
  'ipv6.fraghdr.more',
  'tcp.srcport',
  'tcp.dstport',
  'udp.srcport',
  'udp.dstport',
  'tcp.flags',
  'tcp.seq_raw',
  'tcp.ack_raw',
  'tcp.len',
  'udp.length',
] as const;

const root = path.resolve(import.meta.dirname, '../../..');
const corpus = path.resolve(root, 'test/fixtures/corpus');
const fixtures = path.join(root, 'test/fixtures/decode');

function tshark(file: string, fields: readonly string[]): string {
  const args = [
    '-n',
    '-r',
    file,
    '-T',
    'fields',
    '-E',
    'separator=/t',
    '-E',
    'occurrence=a',
    '-E',
    'aggregator=|',
  ];
  for (const field of fields) args.push('-e', field);
  return execFileSync('tshark', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

function writeCorpusFields(): void {
  let text = `# tshark ${tsharkVersion()} fields: ${TSHARK_FIELDS.join(' ')}\n`;
  for (const relative of classicPcapFiles(corpus, CORPUS_DIRS)) {
    text += `@ ${relative}\n${tshark(path.join(corpus, relative), TSHARK_FIELDS)}`;
  }
  writeFileSync(path.join(fixtures, 'tshark-fields.tsv'), text);
}

/** Addresses whose text form has edge cases: zero runs, ties, embedded IPv4. */
const kTrickyAddresses = [
  '::',
  '::1',
  '::2:3',
  '1::',
  'fe80::1',
  '2001:db8::ff00:42:8329',
  '::ffff:c000:201',
  '::c000:201',
  '::1:c000:201',
  '::ffff:0:0',
  '::ffff:0:1',
  '::fffe:c000:201',
  '0:0:0:0:1:ffff:c000:201',
  '64:ff9b::c000:201',
  '2001:db8:0:1:1:1:1:1',
  '2001:db8:0:0:1:0:0:1',
  '2001:0:0:1:0:0:0:1',
  '2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff',
  '1:0:1:0:1:0:1:0',
  '0:1:0:0:0:0:0:0',
  '0:0:0:0:0:0:1:0',
];

function writeIpv6Text(): void {
  const addresses = kTrickyAddresses.map(ipv6Bytes);
  // Random addresses with random zero groups exercise the run-picking rules further.
  let seed = 0x2545f491;
  const random = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  for (let i = 0; i < 200; i++) {
    const groups: number[] = [];
    for (let g = 0; g < 8; g++)
      groups.push(random() % 3 === 0 ? 0 : random() & (random() % 2 ? 0xffff : 0xff));
    addresses.push(groups.flatMap((g) => [g >>> 8, g & 0xff]));
  }

  const packets: Uint8Array[] = [];
  for (let i = 0; i < addresses.length; i += 2) {
    const src = addresses[i]!;
    const dst = addresses[i + 1] ?? src;
    const packet = ipv6({ next: 17, payload: udp() });
    packet.set(src, 8);
    packet.set(dst, 24);
    packets.push(concat(le32(0), le32(0), le32(packet.length), le32(packet.length), packet));
  }
  const kLinkTypeIpv6 = 229;
  const header = concat(le32(0xa1b2c3d4), [2, 0, 4, 0], le32(0), le32(0), le32(65535), le32(kLinkTypeIpv6));
  const dir = mkdtempSync(path.join(tmpdir(), 'wirespan-ipv6-'));
  try {
    const file = path.join(dir, 'ipv6-text.pcap');
    writeFileSync(file, concat(header, ...packets));
    const texts = tshark(file, ['ipv6.src', 'ipv6.dst'])
      .trimEnd()
      .split('\n')
      .flatMap((line) => line.split('\t'));
    let text = `# tshark ${tsharkVersion()}: IPv6 address (hex) and tshark's text for it\n`;
    addresses.forEach((bytes, i) => {
      text += `${Buffer.from(bytes).toString('hex')}\t${texts[i]}\n`;
    });
    writeFileSync(path.join(fixtures, 'tshark-ipv6-text.tsv'), text);
  } finally {
    rmSync(dir, { recursive: true });
  }
}

function tsharkVersion(): string {
  return /TShark \(Wireshark\) (\S+)/.exec(execFileSync('tshark', ['-v'], { encoding: 'utf8' }))?.[1] ?? '?';
}

writeCorpusFields();
writeIpv6Text();
