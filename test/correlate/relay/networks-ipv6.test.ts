/**
 * parseAddress checks plain hex IPv6 text without net.isIPv6 (whose first call compiles a large
 * regular expression): it must accept and reject exactly what net.isIPv6 does (zones aside,
 * which it rejects), on hand-picked and generated texts.
 */
import assert from 'node:assert/strict';
import { isIPv4, isIPv6 } from 'node:net';
import { test } from 'node:test';
import { parseAddress } from '../../../agent/correlate/relay/networks.ts';

const expected = (text: string): boolean => isIPv4(text) || (isIPv6(text) && !text.includes('%'));

test('parseAddress accepts exactly the IPv4 and IPv6 texts net accepts (without zones)', () => {
  const cases = [
    '::',
    '::1',
    '1::',
    'fd00::',
    'fe80::1',
    '1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7::',
    '::2:3:4:5:6:7:8',
    '1::3:4:5:6:7:8',
    '1:2:3:4:5:6:7:8::',
    '::1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7',
    '1:2:3:4:5:6:7:8:9',
    ':::',
    '1:::2',
    '1::2::3',
    ':1:2:3:4:5:6:7:8',
    '1:2:3:4:5:6:7:8:',
    'FFFF::abcd',
    '12345::',
    'g::',
    '::ffff:10.0.0.1',
    '64:ff9b::192.0.2.33',
    'fe80::1%eth0',
    '',
    ':',
    '1',
    '1:2',
    '\u0010::',
    'f\u001a1::',
  ];
  for (const text of cases) assert.equal(parseAddress(text) !== null, expected(text), JSON.stringify(text));
  // Generated: up to 10 pieces of 0-5 characters from hex digits, ':' and others.
  let seed = 12345;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  const alphabet = '0123456789abcdefABCDEF::::g.%';
  for (let n = 0; n < 200_000; n++) {
    let text = '';
    const length = random(24);
    for (let i = 0; i < length; i++) text += alphabet[random(alphabet.length)];
    assert.equal(parseAddress(text) !== null, expected(text), JSON.stringify(text));
  }
});

test('parseAddress gives the same words for hex IPv6 texts as through net.isIPv6', () => {
  assert.deepEqual(parseAddress('fd00::'), { ipVersion: 6, words: [0xfd000000, 0, 0, 0] });
  assert.deepEqual(parseAddress('1:2:3:4:5:6:7:8'), {
    ipVersion: 6,
    words: [0x10002, 0x30004, 0x50006, 0x70008],
  });
  assert.deepEqual(parseAddress('fe80::ABCD'), { ipVersion: 6, words: [0xfe800000, 0, 0, 0xabcd] });
});
