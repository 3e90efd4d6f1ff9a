import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { className, rcodeName, typeName } from '../../../agent/correlate/dns/mnemonics.ts';
import {
  DnsHeader,
  DnsQuestion,
  kNameLoops,
  kNameTooLong,
  kRootName,
  QuestionStatus,
  readExtendedRcode,
  readHeader,
  readQuestion,
} from '../../../agent/correlate/dns/parse.ts';
import { aRecord, dnsMessage, encodeName, fromHex, optRecord, Type, u16 } from './helpers.ts';

/** Parses header and first question of `bytes` placed at `offset` in a larger buffer. */
function question(bytes: Uint8Array | number[], offset = 0): { status: number; q: DnsQuestion } {
  const data = new Uint8Array(offset + bytes.length + 8).fill(0x41);
  data.set(bytes, offset);
  const header = new DnsHeader();
  assert.equal(readHeader(data, offset, bytes.length, header), true);
  const q = new DnsQuestion();
  const status = readQuestion(data, offset, bytes.length, header, q);
  return { status, q };
}

/** A query whose question bytes are given raw (QDCOUNT 1). */
function rawQuestion(questionBytes: number[]): Uint8Array {
  return dnsMessage({ id: 1, questionBytes });
}

function nameOf(labels: number[][]): number[] {
  return [...labels.flatMap((label) => [label.length, ...label]), 0];
}

const typeA = [...u16(1), ...u16(1)];

describe('readHeader', () => {
  it('reads id, QR, opcode, rcode and the four counts', () => {
    const bytes = dnsMessage({
      id: 0xbeef,
      response: true,
      opcode: 2,
      rcode: 3,
      answers: [aRecord(1, 2, 3, 4), aRecord(5, 6, 7, 8)],
      authority: [aRecord(9, 9, 9, 9)],
      additional: [optRecord(0)],
    });
    const header = new DnsHeader();
    assert.equal(readHeader(bytes, 0, bytes.length, header), true);
    assert.deepEqual(
      { ...header },
      {
        id: 0xbeef,
        isResponse: true,
        opcode: 2,
        rcode: 3,
        questionCount: 1,
        answerCount: 2,
        authorityCount: 1,
        additionalCount: 1,
      },
    );
  });

  it('refuses a message shorter than 12 bytes, or one that runs past the data', () => {
    const bytes = dnsMessage({ id: 7 });
    const header = new DnsHeader();
    assert.equal(readHeader(bytes, 0, 11, header), false);
    assert.equal(readHeader(bytes, bytes.length - 11, 12, header), false);
    assert.equal(header.id, 0);
  });
});

describe('readQuestion', () => {
  it('reads name, type and class of the first question, at any offset', () => {
    const { status, q } = question(
      dnsMessage({ id: 1, question: { name: 'www.Example.test', type: 28, class: 3 } }),
      17,
    );
    assert.equal(status, QuestionStatus.Ok);
    assert.deepEqual({ ...q }, { name: 'www.Example.test', type: 28, qclass: 3 });
  });

  it('follows compression pointers relative to the message start, forwards too', () => {
    // "www" then a pointer to "example.test" stored after the question (offset 12 + 6 + 4 = 22).
    const bytes = rawQuestion([3, 0x77, 0x77, 0x77, 0xc0, 22, ...typeA, ...encodeName('example.test')]);
    assert.deepEqual(question(bytes, 5).q.name, 'www.example.test');
  });

  it('follows a chain of pointers', () => {
    // 12: "a" -> 22; 22: "b" -> 26; 26: "c.d"
    const bytes = rawQuestion([1, 0x61, 0xc0, 22, ...typeA, 0, 0, 1, 0x62, 0xc0, 26, ...encodeName('c.d')]);
    const { status, q } = question(bytes);
    assert.equal(status, QuestionStatus.Ok);
    assert.deepEqual({ ...q }, { name: 'a.b.c.d', type: 1, qclass: 1 });
  });

  it('prints the root name as tshark does', () => {
    assert.equal(question(rawQuestion([0, ...typeA])).q.name, kRootName);
    assert.equal(kRootName, '<Root>');
  });

  it('keeps dots, backslashes, spaces and quotes inside labels as they are (tshark 4.0.17)', () => {
    const labels = [[...Buffer.from('a.b')], [...Buffer.from('back\\slash')], [...Buffer.from('sp ace "q"')]];
    assert.equal(question(rawQuestion([...nameOf(labels), ...typeA])).q.name, 'a.b.back\\slash.sp ace "q"');
  });

  it('escapes ASCII control bytes and DEL like tshark (C escapes, else octal)', () => {
    const labels = [
      [0x61, 0x00, 0x62],
      [0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1b, 0x7f],
    ];
    // tshark 4.0.17 prints: a\000b.\a\b\t\n\v\f\r\033\177
    assert.equal(
      question(rawQuestion([...nameOf(labels), ...typeA])).q.name,
      'a\\000b.\\a\\b\\t\\n\\v\\f\\r\\033\\177',
    );
  });

  it('decodes UTF-8, replaces invalid bytes with U+FFFD and escapes non-printable code points', () => {
    const labels = [
      [0xc3, 0xa9, 0x74, 0xc3, 0xa9], // "été"
      [0xc2, 0x85, 0x41], // U+0085 (Cc) then A
      [0xe2, 0x80, 0x8b, 0x42], // U+200B (Cf) then B
      [0xe9, 0x41], // invalid lead byte then A
      [0xf0, 0x9f, 0x98, 0x80], // U+1F600, printable
    ];
    // tshark 4.0.17 prints: été.\u0085A.\u200BB.\uFFFDA.😀 (the FFFD as the character itself)
    assert.equal(
      question(rawQuestion([...nameOf(labels), ...typeA])).q.name,
      'été.\\u0085A.\\u200BB.\uFFFDA.\u{1F600}',
    );
  });

  it('accepts 253 characters and calls 254 too long, still reading type and class', () => {
    const long = (last: number) =>
      nameOf([Array(63).fill(0x61), Array(63).fill(0x61), Array(63).fill(0x61), Array(last).fill(0x62)]);
    const ok = question(rawQuestion([...long(61), ...u16(16), ...u16(1)]));
    assert.equal(ok.status, QuestionStatus.Ok);
    assert.equal(ok.q.name?.length, 253);
    const tooLong = question(rawQuestion([...long(62), ...u16(16), ...u16(1)]));
    assert.equal(tooLong.status, QuestionStatus.NameTooLong);
    assert.deepEqual({ ...tooLong.q }, { name: kNameTooLong, type: 16, qclass: 1 });
    assert.equal(kNameTooLong, '<Name too long>');
  });

  it('detects a pointer to itself as a loop and reads type/class after the first pointer', () => {
    const { status, q } = question(rawQuestion([0xc0, 12, ...u16(28), ...u16(1)]));
    assert.equal(status, QuestionStatus.NameLoops);
    assert.deepEqual({ ...q }, { name: kNameLoops, type: 28, qclass: 1 });
    assert.equal(kNameLoops, '<Name contains a pointer that loops>');
  });

  it('detects a loop through labels (label, pointer back to it)', () => {
    const { status, q } = question(rawQuestion([1, 0x61, 0xc0, 12, ...typeA]));
    assert.equal(status, QuestionStatus.NameLoops);
    assert.equal(q.name, kNameLoops);
  });

  it('follows up to 255 pointers and calls the 256th a loop (tshark MAX_DNAME_LEN)', () => {
    // A chain of `hops` pointers ending in "x": the first at 12 (then type/class), the others from 18 on.
    const chain = (hops: number) => {
      const bytes: number[] = [];
      for (let i = 0; i < hops; i++) {
        const next = 18 + 2 * i;
        bytes.push(0xc0 | (next >> 8), next & 0xff);
        if (i === 0) bytes.push(...typeA);
      }
      return rawQuestion([...bytes, 1, 0x78, 0]);
    };
    const ok = question(chain(255));
    assert.equal(ok.status, QuestionStatus.Ok);
    assert.equal(ok.q.name, 'x');
    assert.equal(question(chain(256)).status, QuestionStatus.NameLoops);
  });

  it('reports truncation, reserved label types and wild pointers as malformed', () => {
    const malformed = [
      [3, 0x61, 0x62], // label runs past the end
      [1, 0x61, 0, 0, 1], // type/class cut
      [1, 0x61], // no terminator
      [0x41, 0x61, 0, ...typeA], // extended label type 0x40 (RFC 2673 bitstrings)
      [0x81, 0x61, 0, ...typeA], // reserved label type 0x80
      [0xc0, 0xff, ...typeA], // pointer past the end
      [0xc0], // pointer cut
    ];
    for (const bytes of malformed) {
      const { status, q } = question(rawQuestion(bytes));
      assert.equal(status, QuestionStatus.Malformed, `bytes ${bytes.join(',')}`);
      assert.deepEqual({ ...q }, { name: null, type: -1, qclass: -1 });
    }
  });

  it('reports a message without question as Absent', () => {
    const { status, q } = question(dnsMessage({ id: 1, question: null }));
    assert.equal(status, QuestionStatus.Absent);
    assert.equal(q.name, null);
  });
});

describe('readExtendedRcode', () => {
  function rcodeOf(bytes: Uint8Array): number {
    const header = new DnsHeader();
    assert.equal(readHeader(bytes, 0, bytes.length, header), true);
    return readExtendedRcode(bytes, 0, bytes.length, header);
  }

  it("is the header's rcode without an OPT record", () => {
    assert.equal(rcodeOf(dnsMessage({ id: 1, response: true, rcode: 3, answers: [aRecord(1, 1, 1, 1)] })), 3);
  });

  it('adds the OPT record upper bits after answer and authority sections', () => {
    const bytes = dnsMessage({
      id: 1,
      response: true,
      rcode: 7,
      answers: [aRecord(1, 1, 1, 1)],
      authority: [{ type: Type.NS, data: encodeName('ns.example.test') }],
      additional: [aRecord(2, 2, 2, 2), optRecord(1)],
    });
    assert.equal(rcodeOf(bytes), 23); // BADCOOKIE
  });

  it('reads BADVERS from a real response (tcpdump tests/dns-badvers.pcap, frame 2)', () => {
    // 8fb3 8100 0001 0000 0000 0001 | 00 0010 0001 | 00 0029 0200 01 00 0000 0000
    const bytes = fromHex('8fb38100000100000000000100001000010000290200010000000000');
    assert.equal(rcodeOf(bytes), 16);
  });

  it('is -1 when the records do not fit (malformed or cut by the snaplen)', () => {
    const whole = dnsMessage({
      id: 1,
      response: true,
      answers: [aRecord(1, 1, 1, 1)],
      additional: [optRecord(1)],
    });
    const header = new DnsHeader();
    readHeader(whole, 0, whole.length, header);
    assert.equal(readExtendedRcode(whole, 0, whole.length - 12, header), -1);
  });
});

describe('mnemonics', () => {
  it('names types, classes and rcodes, with RFC 3597 spellings for unknown values', () => {
    assert.deepEqual(
      [typeName(1), typeName(28), typeName(12), typeName(65), typeName(255)],
      ['A', 'AAAA', 'PTR', 'HTTPS', 'ANY'],
    );
    assert.deepEqual([typeName(65534), typeName(0)], ['TYPE65534', 'TYPE0']);
    assert.deepEqual(
      [className(1), className(3), className(255), className(42)],
      ['IN', 'CH', 'ANY', 'CLASS42'],
    );
    assert.deepEqual(
      [
        rcodeName(0),
        rcodeName(2),
        rcodeName(3),
        rcodeName(5),
        rcodeName(16),
        rcodeName(23),
        rcodeName(12),
        rcodeName(4095),
      ],
      ['NOERROR', 'SERVFAIL', 'NXDOMAIN', 'REFUSED', 'BADVERS', 'BADCOOKIE', 'RCODE12', 'RCODE4095'],
    );
  });
});
