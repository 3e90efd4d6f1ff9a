/**
 * The command line the chart gives the agent container must be one that `wirespan run`
 * accepts: every flag it renders (for the default values, the representative overrides and
 * hostPath mode) is compared with the options `wirespan run --help` lists, with their types
 * and choices. A flag the CLI does not know, a boolean given a value, a number that is not
 * one, or a value outside the choices fails the test.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type HelpFlag, parseHelpFlags, render, runHelp } from './helpers.ts';

/** Flags whose value is optional in `wirespan run` (`--otlp [URL]`: else OTEL_EXPORTER_OTLP_ENDPOINT). */
const kOptionalValue = new Set(['--otlp']);

interface Problem {
  arg: string;
  problem: string;
}

/** Checks an argument list (after the `run` command) against the help's options. */
export function checkArgs(args: readonly string[], flags: readonly HelpFlag[]): Problem[] {
  const byName = new Map<string, HelpFlag>();
  for (const flag of flags) for (const name of flag.names) byName.set(name, flag);
  const problems: Problem[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.startsWith('-')) {
      problems.push({ arg, problem: 'a value without a flag (would be a positional argument)' });
      continue;
    }
    const [name, inline] = arg.includes('=')
      ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)]
      : [arg];
    const flag = byName.get(name!);
    if (!flag) {
      problems.push({ arg, problem: 'not an option of `wirespan run`' });
      continue;
    }
    if (flag.type === 'boolean' || flag.type === 'count') {
      if (inline !== undefined && !['true', 'false'].includes(inline)) {
        problems.push({ arg, problem: 'a boolean given a value' });
      }
      continue;
    }
    let value = inline;
    if (value === undefined) {
      const next = args[i + 1];
      if (next === undefined || next.startsWith('--')) {
        if (!kOptionalValue.has(name!)) problems.push({ arg, problem: 'needs a value' });
        continue;
      }
      value = next;
      i += 1;
    }
    if (flag.type === 'number' && !Number.isFinite(Number(value))) {
      problems.push({ arg: `${arg} ${value}`, problem: 'not a number' });
    }
    if (flag.choices && !flag.choices.includes(value)) {
      problems.push({ arg: `${arg} ${value}`, problem: `not one of ${flag.choices.join(', ')}` });
    }
  }
  return problems;
}

describe('the help parser', () => {
  // A fixed yargs help text: the comparison below is only as good as this parsing.
  const help = [
    'wirespan run',
    '',
    'Options:',
    '      --version        Show version number                                      [boolean]',
    '  -i, --watch, --input  directory to watch (repeatable)                           [array]',
    '      --on-done        what to do with a finished file',
    '                                      [choices: "keep", "delete", "rename"] [default: "keep"]',
    '      --grace          seconds                                      [number] [default: 2]',
    '      --relay          pair payloads                              [boolean] [default: false]',
    '      --otlp           export over OTLP gRPC to URL                                [string]',
    '  -q, --quiet          no summary                                                 [boolean]',
  ].join('\n');
  const flags = parseHelpFlags(help);

  test('reads spellings, types and wrapped choices', () => {
    const onDone = flags.find((f) => f.names.includes('--on-done'));
    assert.deepEqual(onDone?.choices, ['keep', 'delete', 'rename']);
    assert.deepEqual(flags.find((f) => f.names.includes('--input'))?.names, ['-i', '--watch', '--input']);
    assert.equal(flags.find((f) => f.names.includes('--grace'))?.type, 'number');
    assert.equal(flags.length, 7);
  });

  test('finds unknown flags, misplaced values, bad numbers and choices', () => {
    assert.deepEqual(
      checkArgs(['--watch', '/pcaps', '--on-done', 'delete', '--otlp', '--relay', '-q'], flags),
      [],
    );
    assert.deepEqual(
      checkArgs(
        ['--watch', '/pcaps', '--no-such-flag', '1', '--on-done', 'shred', '--grace', 'two'],
        flags,
      ).map((p) => p.arg),
      ['--no-such-flag', '1', '--on-done shred', '--grace two'],
    );
    assert.deepEqual(
      checkArgs(['--relay', 'yes'], flags).map((p) => p.problem),
      ['a value without a flag (would be a positional argument)'],
    );
    assert.deepEqual(
      checkArgs(['--grace'], flags).map((p) => p.problem),
      ['needs a value'],
    );
  });
});

describe('the agent container runs `wirespan run` with flags the CLI has', () => {
  const help = runHelp();

  test('`wirespan run --help` describes the run command', () => {
    assert.match(
      help,
      /wirespan run\b/,
      `\`wirespan run --help\` does not show the run command (issue 6 not landed?). It printed:\n${help}`,
    );
  });

  const flags = parseHelpFlags(help);
  for (const [label, values] of [
    ['default values', []],
    ['overrides.yaml', ['overrides.yaml']],
    ['hostpath.yaml', ['hostpath.yaml']],
    ['knobs.yaml', ['knobs.yaml']],
  ] as const) {
    test(`${label}: every rendered flag is listed by \`wirespan run --help\``, () => {
      const args = render({ values: [...values] }).agent.args ?? [];
      assert.equal(args[0], 'run');
      assert.ok(flags.length > 10, `the help lists options:\n${help}`);
      assert.deepEqual(checkArgs(args.slice(1), flags), []);
    });
  }

  test('the flags the chart depends on are all there', () => {
    const names = new Set(flags.flatMap((f) => f.names));
    const needed = [
      '--watch',
      '--state-dir',
      '--on-done',
      '--grace',
      '--otlp',
      '--health-port',
      '--dns-ports',
    ];
    assert.deepEqual(
      needed.filter((flag) => !names.has(flag)),
      [],
    );
  });
});
