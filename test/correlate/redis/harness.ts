/** The Redis matcher behind a real TcpReassembly, fed with hand-built segments (hostile and edge cases). */
import type { Matcher } from '../../../agent/correlate/matcher.ts';
import { type CorrelateOptions, defaultCorrelateOptions } from '../../../agent/correlate/options.ts';
import type { Pair } from '../../../agent/correlate/pair.ts';
import { redisMatcher } from '../../../agent/correlate/redis/index.ts';
import type { RedisDetail } from '../../../agent/correlate/redis/matcher.ts';
import type { StreamProtocol } from '../../../agent/correlate/tcp-stream/consumer.ts';
import {
  defaultTcpReassemblyOptions,
  TcpReassembly,
} from '../../../agent/correlate/tcp-stream/reassembly.ts';
import { SkipCounters, skipReason } from '../../../agent/shared/skips.ts';
import { Feeder, type Segment, TcpConversation } from '../tcp-stream/builder.ts';

export class RedisHarness {
  readonly pairs: Pair[] = [];
  /** Pairs emitted, by outcome (kept even when `keepPairs` is false). */
  readonly outcomes = [0, 0];
  readonly skips = new SkipCounters();
  readonly options: CorrelateOptions = defaultCorrelateOptions();
  readonly matcher: Matcher;
  readonly reassembly: TcpReassembly;
  readonly feeder: Feeder;
  readonly conversation = new TcpConversation({ serverPort: 6379, clientPort: 50_000 });
  #at = 0;

  constructor(configure?: (options: CorrelateOptions) => void, keepPairs = true) {
    configure?.(this.options);
    this.matcher = redisMatcher.create!({
      options: this.options,
      sink: {
        emit: (pair) => {
          this.outcomes[pair.outcome]!++;
          if (keepPairs) this.pairs.push(pair);
        },
      },
      skips: this.skips,
    });
    this.reassembly = new TcpReassembly(
      [this.matcher.stream as StreamProtocol],
      defaultTcpReassemblyOptions(),
      this.skips,
    );
    this.feeder = new Feeder(this.reassembly);
  }

  /** Feeds segments 1 ms apart, continuing the harness's clock. */
  feed(...segments: Segment[]): void {
    for (const segment of segments) {
      this.#at += 1_000_000;
      this.feeder.feed(segment, this.#at);
    }
  }

  client(payload: string | Uint8Array): void {
    this.feed(this.conversation.client(payload));
  }

  server(payload: string | Uint8Array): void {
    this.feed(this.conversation.server(payload));
  }

  finish(): void {
    this.reassembly.flush();
    this.matcher.flush();
  }

  count(reason: string): number {
    return this.skips.get(skipReason(reason));
  }

  details(): RedisDetail[] {
    return this.pairs.map((pair) => pair.detail as RedisDetail);
  }
}

/** A command as a RESP array of bulk strings. */
export function resp(...args: string[]): string {
  return `*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join('')}`;
}
