/**
 * memcached rules and hostile input on hand-built segments: meta commands, quiet mode, noreply,
 * the binary protocol and other bytes that are not the text protocol, declared data lengths of
 * 2^31, over-long lines, a million pipelined commands.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { memcachedMatcher } from '../../../agent/correlate/memcached/index.ts';
import { kMaxQueuedRequests, type MemcachedDetail } from '../../../agent/correlate/memcached/matcher.ts';
import { defaultCorrelateOptions } from '../../../agent/correlate/options.ts';
import type { Pair } from '../../../agent/correlate/pair.ts';
import type { StreamProtocol } from '../../../agent/correlate/tcp-stream/consumer.ts';
import {
  defaultTcpReassemblyOptions,
  TcpReassembly,
} from '../../../agent/correlate/tcp-stream/reassembly.ts';
import { SkipCounters, skipReason } from '../../../agent/shared/skips.ts';
import { Feeder, TcpConversation } from '../tcp-stream/builder.ts';

class Harness {
  readonly pairs: Pair[] = [];
  readonly outcomes = [0, 0];
  readonly skips = new SkipCounters();
  readonly matcher;
  readonly #feeder: Feeder;
  readonly #reassembly: TcpReassembly;
  readonly #conversation = new TcpConversation({ serverPort: 11211, clientPort: 50_000 });
  #at = 0;

  constructor(keepPairs = true) {
    this.matcher = memcachedMatcher.create!({
      options: defaultCorrelateOptions(),
      sink: {
        emit: (pair) => {
          this.outcomes[pair.outcome]!++;
          if (keepPairs) this.pairs.push(pair);
        },
      },
      skips: this.skips,
    });
    this.#reassembly = new TcpReassembly(
      [this.matcher.stream as StreamProtocol],
      defaultTcpReassemblyOptions(),
      this.skips,
    );
    this.#feeder = new Feeder(this.#reassembly);
    for (const segment of this.#conversation.handshake()) this.#feed(segment);
  }

  #feed(segment: ReturnType<TcpConversation['client']>): void {
    this.#at += 1_000_000;
    this.#feeder.feed(segment, this.#at);
  }

  client(payload: string | Uint8Array): void {
    this.#feed(this.#conversation.client(payload));
  }

  server(payload: string | Uint8Array): void {
    this.#feed(this.#conversation.server(payload));
  }

  finish(): MemcachedDetail[] {
    this.#reassembly.flush();
    this.matcher.flush();
    return this.pairs.map((pair) => pair.detail as MemcachedDetail);
  }

  count(reason: string): number {
    return this.skips.get(skipReason(reason));
  }
}

test('meta commands pair; replies split anywhere still pair', () => {
  const h = new Harness();
  h.client('ms user:1 5 T60\r\nhello\r\nmg user:1 v\r\nmg nope v\r\nmn\r\n');
  for (const ch of 'HD\r\nVA 5\r\nhello\r\nEN\r\nMN\r\n') h.server(ch);
  const details = h.finish();
  assert.deepEqual(
    details.map((d) => [d.query, d.status]),
    [
      ['ms user:1 ? ?', 'HD'],
      ['mg user:1 ?', 'VA'],
      ['mg nope ?', 'EN'],
      ['mn', 'MN'],
    ],
  );
  assert.ok(!JSON.stringify(details).includes('hello'));
});

test('noreply requests make no pair (counted); quiet mode gives the connection up (counted)', () => {
  const h = new Harness();
  h.client('delete a noreply\r\nincr b 1 noreply\r\nget c\r\n');
  h.server('END\r\n');
  h.client('mg d v q\r\n');
  const details = h.finish();
  assert.deepEqual(
    details.map((d) => [d.query, d.status]),
    [
      ['get c', 'END'],
      ['mg d ? ?', null],
    ],
  );
  assert.equal(h.count('memcached.noreply'), 2);
  assert.equal(h.count('memcached.quiet_mode'), 1);
});

test('the binary protocol and other non-text bytes on the port: skipped, counted, never paired', () => {
  const h = new Harness();
  const getK = new Uint8Array([0x80, 0x0c, 0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]);
  h.client(getK);
  h.server(new Uint8Array([0x81, 0x0c, 0x00, 0x00, 0, 0, 0, 1]));
  assert.equal(h.finish().length, 0);
  assert.equal(h.count('memcached.unframed'), 2, 'once per direction');
});

test('a declared data length of 2^31 is a counter; an over-long line loses framing until a command starts a segment', () => {
  const h = new Harness();
  h.client(`set big 0 0 ${2 ** 31}\r\n`);
  for (let i = 0; i < 100; i++) h.client('x'.repeat(60_000));
  assert.equal(h.matcher.pendingCount(), 1);
  const long = new Harness();
  long.client(`get ${'k'.repeat(60_000)}`);
  long.client('k'.repeat(10_000)); // past 64 KiB with no end of line
  long.client('get ok\r\n');
  long.server('END\r\n');
  assert.deepEqual(
    long.finish().map((d) => [d.query, d.status]),
    [['get ok', 'END']],
  );
  assert.equal(long.count('memcached.unframed'), 1);
  assert.deepEqual(
    h.finish().map((d) => [d.query, d.status]),
    [['set big ? ? ?', null]],
  );
});

test('a million pipelined commands: the queue stays within its cap, every command is accounted for', () => {
  const h = new Harness(false);
  const perSegment = 5000;
  const segments = 200; // 1,000,000 commands
  const segment = 'get k\r\n'.repeat(perSegment);
  for (let i = 0; i < segments; i++) h.client(segment);
  const cap = Math.min(kMaxQueuedRequests, defaultCorrelateOptions().maxPending.memcached!);
  assert.ok(h.matcher.pendingCount() <= cap, 'the queue cap and the pending table cap both hold');
  const replies = 4000;
  h.server('END\r\n'.repeat(replies));
  h.finish();
  const [matched, unanswered] = h.outcomes;
  assert.equal(matched! + unanswered!, perSegment * segments, 'one pair per command');
  assert.ok(h.count('memcached.queue_evicted') + h.count('memcached.evicted') >= perSegment * segments - cap);
  // Each reply answers a queued request, or a tombstone of an evicted one (a late response): none is lost.
  assert.equal(matched! + h.count('memcached.late_response'), replies);
});
