import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NetworkSet, parseAddress, parseCidr } from '../../../agent/correlate/relay/networks.ts';
import { words } from '../udp/harness.ts';

function inSet(set: NetworkSet, address: string): boolean {
  const [w0, w1, w2, w3] = words(address);
  return set.contains(address.includes(':') ? 6 : 4, w0, w1, w2, w3);
}

test('parses IPv4 and IPv6 CIDRs into big-endian words', () => {
  assert.deepEqual(parseCidr('10.0.0.0/8'), { ipVersion: 4, words: [0x0a000000, 0, 0, 0], prefixLength: 8 });
  assert.deepEqual(parseCidr('192.168.0.0/16'), {
    ipVersion: 4,
    words: [0xc0a80000, 0, 0, 0],
    prefixLength: 16,
  });
  assert.deepEqual(parseCidr('fd00::/8'), { ipVersion: 6, words: [0xfd000000, 0, 0, 0], prefixLength: 8 });
  assert.deepEqual(parseCidr('2001:db8:0:1::/64'), {
    ipVersion: 6,
    words: [0x20010db8, 0x00000001, 0, 0],
    prefixLength: 64,
  });
  assert.deepEqual(parseCidr(' 0.0.0.0/0 '), { ipVersion: 4, words: [0, 0, 0, 0], prefixLength: 0 });
});

test('a bare address is one host; host bits beyond the prefix are cleared', () => {
  assert.deepEqual(parseCidr('192.168.1.7'), {
    ipVersion: 4,
    words: [0xc0a80107, 0, 0, 0],
    prefixLength: 32,
  });
  assert.deepEqual(parseCidr('fd00::1'), { ipVersion: 6, words: [0xfd000000, 0, 0, 1], prefixLength: 128 });
  assert.deepEqual(parseCidr('10.1.2.3/8').words, [0x0a000000, 0, 0, 0]);
  assert.deepEqual(parseCidr('2001:db8::ffff:1/20').words, [0x20010000, 0, 0, 0]);
  assert.deepEqual(parseCidr('2001:db8:ffff:ffff::1/33').words, [0x20010db8, 0x80000000, 0, 0]);
});

test('IPv6 forms: full, compressed at either end, embedded IPv4 tail', () => {
  assert.deepEqual(
    parseAddress('2001:0db8:0000:0000:0000:ff00:0042:8329')?.words,
    [0x20010db8, 0, 0x0000ff00, 0x00428329],
  );
  assert.deepEqual(parseAddress('::1')?.words, [0, 0, 0, 1]);
  assert.deepEqual(parseAddress('fe80::')?.words, [0xfe800000, 0, 0, 0]);
  assert.deepEqual(parseAddress('::ffff:192.0.2.128')?.words, [0, 0, 0x0000ffff, 0xc0000280]);
  assert.equal(parseAddress('1.2.3'), null);
});

test('bad CIDRs throw an error naming the option, the input and what is wrong', () => {
  const bad: [string, RegExp][] = [
    [
      '10.0.0.0/33',
      /opt: "10\.0\.0\.0\/33" is not a CIDR: the prefix length must be an integer 0\.\.32 for IPv4/,
    ],
    ['fd00::/129', /the prefix length must be an integer 0\.\.128 for IPv6/],
    ['10.0.0.0/', /prefix length must be an integer/],
    ['10.0.0.0/-1', /prefix length must be an integer/],
    ['10.0.0.0/8/8', /prefix length must be an integer/],
    ['10.0.0.0/eight', /prefix length must be an integer/],
    ['10.0.0.256/24', /"10\.0\.0\.256" is not an IPv4 or IPv6 address/],
    [
      'banana',
      /opt: "banana" is not a CIDR: "banana" is not an IPv4 or IPv6 address \(expected e\.g\. 10\.0\.0\.0\/8/,
    ],
    ['', /"" is not an IPv4 or IPv6 address/],
    ['fe80::1%eth0/64', /"fe80::1%eth0" is not an IPv4 or IPv6 address/],
    ['fd00:::/8', /is not an IPv4 or IPv6 address/],
  ];
  for (const [input, message] of bad) assert.throws(() => parseCidr(input, 'opt'), message, input);
  assert.throws(() => parseCidr(42 as unknown as string, 'opt'), /opt: 42 is not a CIDR string/);
});

test('NetworkSet rejects an empty or non-list configuration', () => {
  assert.throws(() => new NetworkSet([], 'relay.internalNetworks'), /relay\.internalNetworks is empty/);
  assert.throws(
    () => new NetworkSet('10.0.0.0/8' as unknown as string[], 'relay.internalNetworks'),
    /relay\.internalNetworks must be a list of CIDRs/,
  );
  assert.throws(
    () => new NetworkSet(['10.0.0.0/8', 'x'], 'relay.internalNetworks'),
    /relay\.internalNetworks: "x"/,
  );
});

test('contains: prefix boundaries, odd prefixes, IPv6 prefixes across word boundaries', () => {
  const set = new NetworkSet(
    ['10.0.0.0/8', '172.16.0.0/12', '192.0.2.6/31', 'fd00::/8', '2001:db8:0:1::/65'],
    'n',
  );
  assert.equal(inSet(set, '10.0.0.0'), true);
  assert.equal(inSet(set, '10.255.255.255'), true);
  assert.equal(inSet(set, '11.0.0.0'), false);
  assert.equal(inSet(set, '9.255.255.255'), false);
  assert.equal(inSet(set, '172.31.255.255'), true);
  assert.equal(inSet(set, '172.32.0.0'), false);
  assert.equal(inSet(set, '192.0.2.6'), true);
  assert.equal(inSet(set, '192.0.2.7'), true);
  assert.equal(inSet(set, '192.0.2.8'), false);
  assert.equal(inSet(set, 'fdff:ffff::1'), true);
  assert.equal(inSet(set, 'fe00::1'), false);
  assert.equal(inSet(set, '2001:db8:0:1:7fff:ffff:ffff:ffff'), true);
  assert.equal(inSet(set, '2001:db8:0:1:8000::'), false);
  assert.equal(inSet(set, '2001:db8:0:2::'), false);
});

test('contains never mixes IP versions: an IPv6 address with IPv4-looking words is outside an IPv4 network', () => {
  const v4 = new NetworkSet(['10.0.0.0/8'], 'n');
  assert.equal(inSet(v4, 'a00:1::'), false);
  const v6 = new NetworkSet(['::/0'], 'n');
  assert.equal(inSet(v6, '10.0.0.1'), false);
  assert.equal(inSet(v6, '2001:db8::1'), true);
  const all4 = new NetworkSet(['0.0.0.0/0'], 'n');
  assert.equal(inSet(all4, '255.255.255.255'), true);
});
