import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { isCaptureFile, openCapture } from '../../agent/capture/open.ts';
import { ReadResult } from '../../agent/capture/record.ts';
import { SkipCounters } from '../../agent/shared/skips.ts';
import { buildPcap, PcapngBuilder } from './build.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-capture-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array | string): string {
  const filePath = path.join(dir, name);
  fs.writeFileSync(filePath, bytes);
  return filePath;
}

const pcap = file('capture.bin', buildPcap({}, [{ seconds: 9, fraction: 8, data: [1, 2, 3] }]));
const pcapng = file('capture.pcap', new PcapngBuilder().section(false).interface().build());
const text = file('notes.pcap', 'hello world\n');
const empty = file('empty.pcap', '');

describe('openCapture', () => {
  test('opens a capture whatever its name and reads it', () => {
    const opened = openCapture(pcap, new SkipCounters());
    assert.ok('reader' in opened);
    assert.equal(opened.reader.next(), ReadResult.Record);
    assert.equal(opened.reader.record.seconds, 9);
    assert.deepEqual(
      [...opened.reader.record.data.subarray(opened.reader.record.offset, opened.reader.record.offset + 3)],
      [1, 2, 3],
    );
    assert.equal(opened.reader.next(), ReadResult.NeedMore);
    opened.reader.finish();
    assert.equal(opened.reader.error, null);
    assert.equal(opened.source.size(), 24 + 16 + 3);
    opened.source.close();
    opened.source.close();
  });

  test('a file that grows is read on as it grows', () => {
    const growing = file('growing.pcap', buildPcap({}, []));
    const opened = openCapture(growing, new SkipCounters());
    assert.ok('reader' in opened);
    assert.equal(opened.reader.next(), ReadResult.NeedMore);
    const record = buildPcap({}, [{ seconds: 1, fraction: 0, data: [7] }]).subarray(24);
    fs.appendFileSync(growing, record.subarray(0, 5));
    assert.equal(opened.reader.next(), ReadResult.NeedMore);
    fs.appendFileSync(growing, record.subarray(5));
    assert.equal(opened.reader.next(), ReadResult.Record);
    assert.equal(opened.reader.record.data[opened.reader.record.offset], 7);
    opened.source.close();
  });

  test('missing file, directory: an error naming the path and errno code, no throw', () => {
    const missing = path.join(dir, 'nope.pcap');
    assert.deepEqual(openCapture(missing, new SkipCounters()), {
      error: `cannot open capture ${missing}: no such file (ENOENT)`,
    });
    assert.deepEqual(openCapture(dir, new SkipCounters()), {
      error: `cannot open capture ${dir}: is a directory (EISDIR)`,
    });
  });

  test('a FIFO is refused without blocking', () => {
    const fifo = path.join(dir, 'fifo.pcap');
    execFileSync('mkfifo', [fifo]);
    assert.deepEqual(openCapture(fifo, new SkipCounters()), {
      error: `cannot open capture ${fifo}: not a regular file`,
    });
    assert.equal(isCaptureFile(fifo), false);
  });

  test('permission denied', (t) => {
    const locked = file('locked.pcap', buildPcap({}, []));
    fs.chmodSync(locked, 0);
    fs.chmodSync(dir, 0o755);
    // root reads every file: ask as an unprivileged user then (skipped if that user cannot load
    // the modules from where this checkout lives).
    const asUser = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const openModule = new URL('../../agent/capture/open.ts', import.meta.url).href;
    const skipsModule = new URL('../../agent/shared/skips.ts', import.meta.url).href;
    const script = `
      let modules;
      try {
        modules = await Promise.all([import(${JSON.stringify(openModule)}), import(${JSON.stringify(skipsModule)})]);
      } catch (error) {
        process.stdout.write(JSON.stringify({ cannotLoad: error.message }));
        process.exit(0);
      }
      const [{ openCapture }, { SkipCounters }] = modules;
      process.stdout.write(JSON.stringify(openCapture(process.argv[1], new SkipCounters())));`;
    const output = JSON.parse(
      execFileSync(process.execPath, ['--input-type=module', '-e', script, locked], {
        ...asUser,
        encoding: 'utf8',
      }),
    );
    if (output.cannotLoad) {
      t.skip(`an unprivileged user cannot load the modules here: ${output.cannotLoad}`);
      return;
    }
    assert.deepEqual(output, { error: `cannot open capture ${locked}: permission denied (EACCES)` });
  });

  test('text and empty files open, then fail or wait as a reader does', () => {
    const opened = openCapture(text, new SkipCounters());
    assert.ok('reader' in opened);
    assert.equal(opened.reader.next(), ReadResult.Failed);
    assert.equal(opened.reader.error, 'not a capture file (magic 0x68656c6c)');
    opened.source.close();
    const none = openCapture(empty, new SkipCounters());
    assert.ok('reader' in none);
    assert.equal(none.reader.next(), ReadResult.NeedMore);
    none.reader.finish();
    assert.equal(none.reader.error, 'file too short to be a capture (0 bytes)');
    none.source.close();
  });
});

test('isCaptureFile looks at the magic, not the name', () => {
  assert.equal(isCaptureFile(pcap), true);
  assert.equal(isCaptureFile(pcapng), true);
  assert.equal(isCaptureFile(text), false);
  assert.equal(isCaptureFile(empty), false);
  assert.equal(isCaptureFile(dir), false);
  assert.equal(isCaptureFile(path.join(dir, 'nope')), false);
  for (const magic of [0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1, 0xa1b2cd34, 0x34cdb2a1, 0x0a0d0d0a]) {
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setUint32(0, magic);
    assert.equal(isCaptureFile(file(`magic-${magic.toString(16)}`, bytes)), true, magic.toString(16));
  }
});
