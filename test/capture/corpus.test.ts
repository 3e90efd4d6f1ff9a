/**
 * Every capture of the shared corpus, read to the end: the number of packet records must equal
 * capinfos' "Number of packets", and every delivered record's timestamp and lengths must equal
 * tshark's (test/fixtures/capture/corpus-frames.txt, made by make-corpus-frames.sh).
 */

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { openCapture } from '../../agent/capture/open.ts';
import { ReadResult } from '../../agent/capture/record.ts';
import { SkipCounters } from '../../agent/shared/skips.ts';
import { corpusDir } from '../helpers/corpus.ts';
import { type CollectedRecord, collect, copyRecord } from './collect.ts';

const CORPUS = corpusDir;
const FOLDERS = ['formats', 'linktypes', 'dns', 'http', 'tcp', 'malformed'];
const FRAMES = path.resolve(import.meta.dirname, '../fixtures/capture/corpus-frames.txt');

/** capinfos -T -m output: "Number of packets" of the data row, or null when there is none. */
function capinfosPackets(infoPath: string): number | null {
  const lines = fs.readFileSync(infoPath, 'utf8').split('\n');
  const headerIndex = lines.findIndex((line) => line.startsWith('File name,'));
  const header = lines[headerIndex]?.split(',') ?? [];
  const row = lines[headerIndex + 1]?.split(',') ?? [];
  const value = row[header.indexOf('Number of packets')];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : null;
}

/** tshark frames per "folder/file": "<seconds>.<9 digits> <caplen> <len>" per frame. */
function tsharkFrames(): Map<string, string[]> {
  const frames = new Map<string, string[]>();
  let current: string[] = [];
  for (const line of fs.readFileSync(FRAMES, 'utf8').split('\n')) {
    if (line.startsWith('@')) {
      current = [];
      frames.set(line.slice(1), current);
    } else if (line !== '' && !line.startsWith('#')) current.push(line);
  }
  return frames;
}

/**
 * Link types whose records start with a pseudo-header that tshark strips from the frame lengths
 * (we deliver the record as stored): link type -> pseudo-header bytes.
 */
const PSEUDO_HEADER_LENGTHS = new Map([[123 /* SunATM */, 4]]);

/** A record in tshark's terms: "<epoch with 9 decimals> <frame.cap_len> <frame.len>". */
function frameLine(record: CollectedRecord): string {
  const pseudoHeader = PSEUDO_HEADER_LENGTHS.get(record.linkType) ?? 0;
  const time = `${record.seconds}.${String(record.nanos).padStart(9, '0')}`;
  return `${time} ${record.capturedLength - pseudoHeader} ${record.originalLength - pseudoHeader}`;
}

/** Reads a corpus file through openCapture, as the replay CLI does. */
function readFile(filePath: string) {
  const skips = new SkipCounters();
  const opened = openCapture(filePath, skips);
  assert.ok('reader' in opened, 'error' in opened ? opened.error : '');
  const { reader, source } = opened;
  const records: CollectedRecord[] = [];
  const maxCalls = source.size() / 12 + 10;
  let result = reader.next();
  while (result === ReadResult.Record) {
    assert.ok(records.length < maxCalls, 'reader does not terminate');
    records.push(copyRecord(reader));
    result = reader.next();
  }
  reader.finish();
  source.close();
  return { records, result, error: reader.error, skips: skips.toObject(), position: reader.position };
}

const oracle = tsharkFrames();
const rows: string[] = [];

/** Seeded chunk sizes 1..997 so the tail run is the same every time. */
const chunkSizes = Array.from({ length: 101 }, (_, i) => ((i * 7919) % 997) + 1);

for (const folder of FOLDERS) {
  describe(`corpus ${folder}`, () => {
    const files = fs
      .readdirSync(path.join(CORPUS, folder))
      .filter((name) => fs.existsSync(path.join(CORPUS, folder, `${name}.info.txt`)))
      .sort();
    let ours = 0;
    let theirs = 0;
    const uncounted: string[] = [];

    for (const name of files) {
      const key = `${folder}/${name}`;
      test(name, () => {
        const filePath = path.join(CORPUS, folder, name);
        const read = readFile(filePath);
        const expected = capinfosPackets(`${filePath}.info.txt`);
        // Packet blocks that were counted but not delivered still are frames for tshark.
        const skippedPackets =
          (read.skips['capture.pcapng_obsolete_packet_block'] ?? 0) +
          (read.skips['capture.pcapng_unknown_interface'] ?? 0) +
          (read.skips['capture.pcapng_bad_packet_block'] ?? 0);
        const count = read.records.length + skippedPackets;
        rows.push(`${key.padEnd(72)} ${String(count).padStart(5)} ${String(expected ?? '?').padStart(5)}`);
        if (expected === null) {
          uncounted.push(`${name} (${count} read)`);
        } else {
          ours += count;
          theirs += expected;
        }

        assert.equal(read.error, null);
        assert.equal(read.result, ReadResult.NeedMore);
        assert.equal(read.position, fs.statSync(filePath).size, 'read to the end');
        if (expected !== null) assert.equal(count, expected, 'packets vs capinfos');
        const frames = oracle.get(key);
        if (frames !== undefined) {
          assert.equal(frames.length, count, 'frames vs tshark');
          for (const record of read.records) {
            assert.equal(frameLine(record), frames[record.packetNumber - 1], `frame ${record.packetNumber}`);
          }
        }

        // The same bytes appended in small chunks (a capture being written) give the same records.
        const tailed = collect(fs.readFileSync(filePath), { windowSize: 4096 }, chunkSizes);
        assert.deepEqual(tailed.records, read.records);
        assert.equal(tailed.error, null);
      });
    }

    test('totals', (t) => {
      const without = uncounted.length > 0 ? `; no capinfos count: ${uncounted.join(', ')}` : '';
      t.diagnostic(`${folder}: ${files.length} captures, ${ours} packets read, capinfos ${theirs}${without}`);
      assert.equal(ours, theirs);
    });
  });
}

test('table: file, packets read, capinfos', (t) => {
  t.diagnostic(`\n${rows.join('\n')}`);
  assert.ok(rows.length > 100, `${rows.length} captures read`);
});

test('invalid timestamp fractions are normalised and counted (tshark prints garbage for them)', () => {
  const nano = readFile(path.join(CORPUS, 'formats/tcpdump--timestamp_invalid_nano.pcap'));
  const micro = readFile(path.join(CORPUS, 'malformed/tcpdump--timestamp_invalid_micro.pcap'));
  assert.deepEqual(nano.records.map(frameLine), [
    '1418145369.999999999 76 76',
    '1418145371.000000000 76 76',
    '1418145372.147483648 68 68',
  ]);
  assert.deepEqual(micro.records.map(frameLine), [
    '1418145369.999999000 76 76',
    '1418145371.000000000 76 76',
    '1418147517.483648000 68 68',
  ]);
  assert.deepEqual(nano.skips, { 'capture.timestamp_fraction_overflow': 2 });
  assert.deepEqual(micro.skips, { 'capture.timestamp_fraction_overflow': 2 });
});

test('time after 2106 in pcapng (seconds > 2^32)', () => {
  const read = readFile(path.join(CORPUS, 'formats/tcpdump--time_2106_overflow.pcapng'));
  assert.deepEqual(
    read.records.map((r) => [r.seconds, r.nanos]),
    [[2 ** 32, 0]],
  );
});
