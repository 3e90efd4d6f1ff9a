/**
 * wirespan command line. Exit codes: 0 ok, 1 processing error (an input could not be read),
 * 2 usage error (bad flags or values).
 */
import module from 'node:module';
import type { Argv } from 'yargs';
import { matcherRegistry } from '../correlate/registry.ts';
import { parseCidr } from '../correlate/relay/networks.ts';
import { kDefaultMaxObjects } from '../enrich/kubernetes/slim.ts';
import { kPackageVersion } from '../shared/package-info.ts';
import { loadConfigFile } from './config-file.ts';
import {
  correlationArgs,
  correlationOptions,
  portList,
  positiveInteger,
  positiveSeconds,
  textList,
} from './correlation-flags.ts';
import { isHelpLayoutImport } from './help-layout.ts';
import {
  checked,
  dropUnknownEnv,
  kEnvPrefix,
  optionContext,
  UsageError,
  withEnvSource,
} from './option-checks.ts';

export const ExitCode = { Ok: 0, ProcessingError: 1, UsageError: 2 } as const;

function workerCount(value: unknown): number | 'auto' {
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new UsageError(`must be auto or 0..64, got "${value}"`);
  return n;
}

function nonNegativeSeconds(value: unknown): number {
  const seconds = Number(value);
  if (!Number.isFinite(seconds) || seconds < 0) throw new UsageError(`not a number of seconds: "${value}"`);
  return seconds;
}

function ratio(value: unknown): number {
  const r = Number(value);
  if (!Number.isFinite(r) || r < 0 || r > 1) throw new UsageError(`must be between 0 and 1, got "${value}"`);
  return r;
}

function secondsList(value: unknown): number[] {
  return textList(value).map((item) => {
    const seconds = Number(item);
    if (!Number.isFinite(seconds) || seconds <= 0)
      throw new UsageError(`not a positive number of seconds: "${item}"`);
    return seconds;
  });
}

function serviceMap(value: unknown): { match: string; service: string }[] {
  return textList(value).map((item) => {
    const at = item.lastIndexOf('=');
    if (at <= 0 || at === item.length - 1) throw new UsageError(`entries are MATCH=NAME, got "${item}"`);
    return { match: item.slice(0, at), service: item.slice(at + 1) };
  });
}

function portOrZero(value: unknown): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new UsageError(`not a port number: "${value}"`);
  return port;
}

function listenPort(value: unknown): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new UsageError(`not a port number from 1 to 65535: "${value}"`);
  return port;
}

function nonNegativeInteger(value: unknown): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`not an integer >= 0: "${value}"`);
  return n;
}

/** `--ignore-path`: each entry (comma-separated too) a path starting with "/". */
function ignorePaths(value: unknown): string[] {
  const paths = (value as unknown[]).flatMap(textList);
  for (const path of paths) {
    if (!path.startsWith('/')) throw new UsageError(`"${path}" must start with "/"`);
  }
  return paths;
}

function cidrList(value: unknown): string[] {
  const cidrs = textList(value);
  for (const cidr of cidrs) {
    try {
      parseCidr(cidr);
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
  }
  return cidrs;
}

/** Protocol names of the registry (`--spans-off`). */
function protocolNames(value: unknown): string[] {
  const names = textList(value);
  const known = matcherRegistry.map((descriptor) => descriptor.name);
  for (const name of names) {
    if (!known.includes(name))
      throw new UsageError(`unknown protocol "${name}" (known: ${known.join(', ')})`);
  }
  return names;
}

/** OTLP export flags shared by replay and run. */
function otelOptions<T>(y: Argv<T>) {
  return y
    .option('otlp', {
      describe:
        'export every pair as an OpenTelemetry span (and latency/pipeline metrics) over OTLP to URL ' +
        '(gRPC, or HTTP with OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf: URL is the base, /v1/traces appended); ' +
        'without URL: OTEL_EXPORTER_OTLP_ENDPOINT or http://localhost:4317 (4318 for HTTP)',
      type: 'string',
    })
    .option('prometheus-port', {
      describe:
        'serve the latency and pipeline metrics for Prometheus on this port (/metrics), with or without --otlp',
      type: 'number',
      coerce: checked('prometheus-port', listenPort),
    })
    .option('local-networks', {
      describe: 'OTLP: CIDRs of the observed node; a span is SERVER when its server is local, else CLIENT',
      type: 'string',
      coerce: checked('local-networks', (v: unknown) => (v === undefined ? undefined : textList(v)), true),
    })
    .option('service-map', {
      describe: 'OTLP: service.name per server, MATCH=NAME,... where MATCH is addr:port, CIDR or CIDR:port',
      type: 'string',
      default: '',
      coerce: checked('service-map', serviceMap, true),
    })
    .option('http-route', {
      describe: 'OTLP: route template such as /users/{id} (repeatable): gives http.route and the span name',
      type: 'string',
      array: true,
      default: [] as string[],
    })
    .option('http-route-heuristics', {
      describe:
        'OTLP: when no --http-route matches, path segments that look like ids (numbers, UUIDs, hashes, tokens, dates, emails) become {id}-style placeholders in http.route and the span name',
      type: 'boolean',
      default: true,
    })
    .option('ignore-path', {
      describe:
        'OTLP: HTTP paths that make no span and no latency point: prefix (/healthz) or glob (/static/**) (repeatable or comma-separated; JSONL keeps them)',
      type: 'string',
      array: true,
      default: [] as string[],
      coerce: checked('ignore-path', ignorePaths, true),
    })
    .option('ignore-user-agent', {
      describe:
        'OTLP: HTTP requests whose User-Agent contains this text (case-insensitive, e.g. kube-probe) make no span and no latency point (repeatable or comma-separated)',
      type: 'string',
      array: true,
      default: [] as string[],
      coerce: checked('ignore-user-agent', (v: unknown) => (v as unknown[]).flatMap(textList), true),
    })
    .option('ignore-cidr', {
      describe:
        'OTLP: pairs whose client or server address is in these CIDRs make no span and no latency point',
      type: 'string',
      default: '',
      coerce: checked('ignore-cidr', cidrList, true),
    })
    .option('ignore-port', {
      describe: 'OTLP: pairs to these server ports make no span and no latency point',
      type: 'string',
      default: '',
      coerce: checked('ignore-port', portList, true),
    })
    .option('spans-off', {
      describe: `OTLP: protocols whose pairs export no spans (their latency metrics stay), comma-separated: ${matcherRegistry.map((d) => d.name).join(', ')}`,
      type: 'string',
      default: '',
      coerce: checked('spans-off', protocolNames, true),
    })
    .option('sample-ratio', {
      describe:
        'OTLP: share of ordinary spans kept (errors, timeouts and slow spans are always kept); default: OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, else 1',
      type: 'number',
      coerce: checked('sample-ratio', ratio),
    })
    .option('slow-span', {
      describe: 'OTLP: spans at least this many seconds long are always kept',
      type: 'number',
      coerce: checked('slow-span', nonNegativeSeconds),
    })
    .option('slo-boundaries', {
      describe: 'OTLP: extra latency histogram boundaries in seconds (your SLO thresholds), comma-separated',
      type: 'string',
      default: '',
      coerce: checked('slo-boundaries', secondsList, true),
    })
    .option('histogram', {
      describe: 'OTLP: latency histogram aggregation',
      choices: ['explicit', 'exponential'] as const,
      default: 'explicit' as const,
    })
    .option('kubernetes', {
      describe:
        'OTLP: name observed services and their clients by Kubernetes pod, workload and Service (watches the API: in-cluster service account, else KUBECONFIG)',
      type: 'boolean',
      default: false,
    })
    .option('kubernetes-name-labels', {
      describe:
        'OTLP with --kubernetes: also take service.name/service.version from the app.kubernetes.io/instance, /name and /version pod labels',
      type: 'boolean',
      default: false,
    })
    .option('kubernetes-max-objects', {
      describe:
        'OTLP with --kubernetes: objects cached per kind, and addresses mapped (beyond: left out, counted)',
      type: 'number',
      default: kDefaultMaxObjects,
      coerce: checked('kubernetes-max-objects', positiveInteger),
    })
    .option('unanswered-spans-per-second', {
      describe:
        'OTLP: unanswered spans per source (client address and protocol) and second of capture time exported one by one; beyond, one "unanswered flood" span per second counts them (0 = no limit; metrics and JSONL keep every pair)',
      type: 'number',
      default: 100,
      coerce: checked('unanswered-spans-per-second', nonNegativeInteger),
    })
    .option('unanswered-spans-per-second-total', {
      describe:
        'OTLP: unanswered spans per protocol and second of capture time from all sources together (spoofed floods); beyond, one "unanswered flood" span per protocol and second counts them (default 10 x --unanswered-spans-per-second)',
      type: 'number',
      coerce: checked('unanswered-spans-per-second-total', nonNegativeInteger),
    })
    .check((argv) => {
      const perSource = argv['unanswered-spans-per-second'];
      const total = argv['unanswered-spans-per-second-total'];
      if (total !== undefined && total < perSource)
        throw new UsageError(
          `--unanswered-spans-per-second-total (${total}) must be at least --unanswered-spans-per-second (${perSource})`,
        );
      return true;
    });
}

/** The export settings as the commands take them. */
function otelArgs(argv: {
  otlp: string | undefined;
  'local-networks': string[] | undefined;
  'service-map': { match: string; service: string }[];
  'http-route': (string | number)[];
  'http-route-heuristics': boolean;
  'ignore-path': string[];
  'ignore-user-agent': string[];
  'ignore-cidr': string[];
  'ignore-port': number[];
  'spans-off': string[];
  'sample-ratio': number | undefined;
  'prometheus-port': number | undefined;
  'slow-span': number | undefined;
  'slo-boundaries': number[];
  histogram: 'explicit' | 'exponential';
  'unanswered-spans-per-second': number;
  'unanswered-spans-per-second-total'?: number;
  kubernetes: boolean;
  'kubernetes-name-labels': boolean;
  'kubernetes-max-objects': number;
}) {
  return {
    otlp: argv.otlp,
    otel: {
      localNetworks: argv['local-networks'],
      serviceMap: argv['service-map'],
      httpRoutes: argv['http-route'].map(String),
      httpRouteHeuristics: argv['http-route-heuristics'],
      ignore: {
        paths: argv['ignore-path'],
        userAgents: argv['ignore-user-agent'],
        cidrs: argv['ignore-cidr'],
        ports: argv['ignore-port'],
      },
      spansOff: argv['spans-off'],
      sampleRatio: argv['sample-ratio'],
      prometheusPort: argv['prometheus-port'],
      slowSpanSeconds: argv['slow-span'] ?? null,
      sloBoundaries: argv['slo-boundaries'],
      histogram: argv.histogram,
      unansweredSpansPerSecond: argv['unanswered-spans-per-second'],
      unansweredSpansTotalPerSecond: argv['unanswered-spans-per-second-total'],
      kubernetes: argv.kubernetes
        ? { nameLabels: argv['kubernetes-name-labels'], maxObjects: argv['kubernetes-max-objects'] }
        : null,
    },
  };
}

/** WIRESPAN_* variables `run` ignored (not one of its options, or a service-link value). */
let ignoredEnv: string[] = [];

/**
 * `run` reads WIRESPAN_* variables that name one of its options (so Kubernetes service links,
 * WIRESPAN_PORT, WIRESPAN_SERVICE_HOST, ..., cannot fail the strict parse); the others are
 * removed from the environment before yargs reads it and named once in a warning.
 */
function knownEnvOnly<T>(y: Argv<T>): string {
  // getOptions() is yargs' (untyped) view of the options defined so far, aliases included.
  const options = (
    y as unknown as { getOptions(): { key: Record<string, unknown>; alias: Record<string, string[]> } }
  ).getOptions();
  const flags = new Set<string>(Object.keys(options.key));
  for (const [name, aliases] of Object.entries(options.alias)) {
    flags.add(name);
    for (const alias of aliases) flags.add(alias);
  }
  optionContext.env = true;
  optionContext.aliases = options.alias;
  ignoredEnv = dropUnknownEnv(process.env, flags);
  return kEnvPrefix;
}

function warnIgnoredEnv(): void {
  if (ignoredEnv.length === 0) return;
  process.stderr.write(
    `${JSON.stringify({
      time: new Date().toISOString(),
      level: 'warn',
      msg: `ignored ${kEnvPrefix}_* environment variables that are not wirespan settings (Kubernetes service links of a Service named wirespan look like this; set enableServiceLinks: false)`,
      variables: ignoredEnv,
    })}\n`,
  );
}

/** While yargs loads, its imports of the help layout packages resolve to stand-ins (help-layout.ts). */
const helpLayoutStandIns = module.registerHooks({
  resolve(specifier, context, next) {
    const importer = context.parentURL;
    if (importer === undefined || !isHelpLayoutImport(specifier, importer)) return next(specifier, context);
    const url = new URL('./help-layout.ts', import.meta.url);
    url.searchParams.set('from', importer);
    url.searchParams.set('package', specifier);
    return { url: url.href, shortCircuit: true };
  },
});
const { default: yargs } = await import('yargs');
const { hideBin } = await import('yargs/helpers');
helpLayoutStandIns.deregister();

optionContext.argv = hideBin(process.argv);

const cli = yargs(hideBin(process.argv));
// yargs renders the whole help text of a command before running its handler (usage.js
// cacheHelpMessage, for handlers that call showHelp later): ~100 ms of cliui on every run with
// this many options. No handler here shows help and .fail() prints the message only, so the
// render is skipped; --help itself is answered before any handler and is not affected.
(cli as unknown as { getInternalMethods(): { getUsageInstance(): { cacheHelpMessage(): void } } })
  .getInternalMethods()
  .getUsageInstance().cacheHelpMessage = () => {};

await cli
  .scriptName('wirespan')
  .usage(
    '$0 <command> [options]\n\nPacket captures in, request/response pairs (and OpenTelemetry spans) out.',
  )
  .command(
    'replay <inputs..>',
    'Read finished capture files (pcap or pcapng; a directory = its capture files in rotation order), pair requests with responses, print the pairs and a summary',
    (y) =>
      otelOptions(correlationOptions(y))
        .positional('inputs', {
          describe: 'capture files and/or directories',
          type: 'string',
          array: true,
          demandOption: true,
        })
        .option('output', {
          alias: 'o',
          describe:
            'where pairs (or --packets lines) go: none | jsonl[:PATH] | text[:PATH] (stdout when no PATH)',
          type: 'string',
          default: 'jsonl',
          coerce: checked('output', String),
        })
        .option('packets', {
          describe: 'list every capture record (one JSON line each) instead of pairs',
          type: 'boolean',
          default: false,
        })
        .option('workers', {
          describe:
            'correlator worker threads: auto (one per core, none on a single core), 0 (everything on one thread: the reference mode) or N',
          type: 'string',
          default: 'auto',
          coerce: checked('workers', workerCount),
        })
        .option('stats-interval', {
          describe: 'print a pipeline stats line on stderr every SECONDS (0 = never; worker mode)',
          type: 'number',
          default: 0,
          coerce: checked('stats-interval', nonNegativeSeconds),
        })
        .option('summary', {
          describe:
            'end-of-run summary on stderr: text (summary lines + latency table), json (one JSON object), none (summary lines only)',
          choices: ['text', 'json', 'none'] as const,
          default: 'text' as const,
        })
        .option('summary-top', {
          describe: 'servers listed in the latency summary, by requests and by p99',
          type: 'number',
          default: 10,
          coerce: checked('summary-top', positiveInteger),
        })
        .option('progress', {
          describe:
            'progress bar on stderr (default: when stderr is a terminal and not --quiet; --progress elsewhere: a line every 2 s)',
          type: 'boolean',
        })
        .option('quiet', {
          alias: 'q',
          describe: 'nothing on stderr: no summary, no progress bar',
          type: 'boolean',
          default: false,
        }),
    async (argv) => {
      const { runReplay } = await import('./replay-command.ts');
      process.exitCode = await runReplay({
        inputs: argv.inputs,
        output: argv.output,
        packets: argv.packets,
        quiet: argv.quiet,
        summary: argv.summary,
        summaryTop: argv['summary-top'],
        progress: argv.progress ?? null,
        workers: argv.workers,
        statsIntervalSeconds: argv['stats-interval'],
        ...correlationArgs(argv),
        ...otelArgs(argv),
      });
    },
  )
  .command(
    'run',
    'The agent: tail the capture rotation directories tcpdump writes, pair requests with responses as packets arrive, export spans and metrics (OTLP) until SIGTERM',
    (y) =>
      otelOptions(correlationOptions(y))
        .option('watch', {
          alias: ['i', 'input'],
          describe: 'a directory tcpdump rotates capture files into (repeatable)',
          type: 'string',
          array: true,
          demandOption: 'give at least one --watch DIR',
        })
        .option('state-dir', {
          describe:
            'where the checkpoint is kept (default: .wirespan-state next to the first --watch directory)',
          type: 'string',
        })
        .option('on-done', {
          describe: 'what to do with a capture file once it was read to its end and no checkpoint needs it',
          choices: ['keep', 'delete', 'rename'] as const,
          default: 'keep' as const,
        })
        .option('grace', {
          describe: 'a file with a newer successor is finished once it has not grown for SECONDS',
          type: 'number',
          default: 2,
          coerce: checked('grace', nonNegativeSeconds),
        })
        .option('output', {
          alias: 'o',
          describe: 'also write pairs: none | jsonl[:PATH] | text[:PATH] (stdout when no PATH)',
          type: 'string',
          default: 'none',
          coerce: checked('output', String),
        })
        .option('health-port', {
          describe: 'port of the /healthz and /readyz endpoints (0 = none)',
          type: 'number',
          default: 8089,
          coerce: checked('health-port', portOrZero),
        })
        .option('health-host', {
          alias: 'health-address',
          describe:
            'address the health endpoints listen on (0.0.0.0: every IPv4 address, as kubelet probes with hostNetwork need; 127.0.0.1 or the node IP to narrow it). They answer GET and HEAD only',
          type: 'string',
          default: '0.0.0.0',
          coerce: checked('health-host', (v: unknown) => {
            const host = String(v).trim();
            if (host === '') throw new UsageError('an address is needed (e.g. 0.0.0.0, 127.0.0.1, ::)');
            return host;
          }),
        })
        .option('stats-interval', {
          describe: 'log a stats line every SECONDS (0 = never)',
          type: 'number',
          default: 60,
          coerce: checked('stats-interval', nonNegativeSeconds),
        })
        .option('shutdown-timeout', {
          describe: 'seconds to flush spans and metrics after SIGTERM before giving up',
          type: 'number',
          default: 20,
          coerce: checked('shutdown-timeout', positiveSeconds),
        })
        .option('workers', {
          describe:
            'correlator worker threads: auto (one per core, none on a single core; the workers also encode the spans), 0 (everything on one thread) or N; checkpoints wait for every worker',
          type: 'string',
          default: 'auto',
          coerce: checked('workers', workerCount),
        })
        .option('quiet', { alias: 'q', describe: 'no stats lines', type: 'boolean', default: false })
        .config(
          'config',
          'a YAML file of flags (keys are flag names, e.g. watch: [/pcaps]); see config/wirespan.yaml',
          loadConfigFile,
        )
        .env(knownEnvOnly(y)),
    async (argv) => {
      warnIgnoredEnv();
      const { runAgent } = await import('./run-command.ts');
      process.exitCode = await runAgent({
        watch: argv.watch.map(String),
        stateDir: argv['state-dir'] ?? null,
        onDone: argv['on-done'],
        graceSeconds: argv.grace,
        output: argv.output,
        healthHost: argv['health-host'],
        healthPort: argv['health-port'],
        statsIntervalSeconds: argv['stats-interval'],
        shutdownTimeoutSeconds: argv['shutdown-timeout'],
        quiet: argv.quiet,
        workers: argv.workers,
        ...correlationArgs(argv),
        ...otelArgs(argv),
      });
    },
  )
  .command(
    'report <inputs..>',
    'Read finished capture files and write one self-contained HTML latency report (charts, slowest pairs)',
    (y) =>
      correlationOptions(y)
        .positional('inputs', {
          describe: 'capture files and/or directories',
          type: 'string',
          array: true,
          demandOption: true,
        })
        .option('output', {
          alias: 'o',
          describe: 'the HTML file to write',
          type: 'string',
          default: 'report.html',
        })
        .option('title', { describe: 'report title (default: the capture file names)', type: 'string' })
        .option('top-servers', {
          describe: 'servers (by answered pairs) that get a latency CDF',
          type: 'number',
          default: 8,
          coerce: checked('top-servers', positiveInteger),
        })
        .option('slowest', {
          describe: 'rows of the slowest-pairs table',
          type: 'number',
          default: 50,
          coerce: checked('slowest', positiveInteger),
        })
        .option('workers', {
          describe:
            'correlator worker threads: auto (one per core, none on a single core), 0 (everything on one thread) or N',
          type: 'string',
          default: 'auto',
          coerce: checked('workers', workerCount),
        })
        .option('quiet', {
          alias: 'q',
          describe: 'no summary line on stderr',
          type: 'boolean',
          default: false,
        }),
    async (argv) => {
      const { runReport } = await import('./report-command.ts');
      process.exitCode = await runReport({
        inputs: argv.inputs,
        output: argv.output,
        title: argv.title,
        topServers: argv['top-servers'],
        slowest: argv.slowest,
        quiet: argv.quiet,
        workers: argv.workers,
        ...correlationArgs(argv),
      });
    },
  )
  .demandCommand(1, 'give a command, e.g. wirespan replay capture.pcap')
  .strict()
  .version(kPackageVersion)
  .help()
  .alias('h', 'help')
  .wrap(Math.min(110, process.stdout.columns || 110))
  .fail((message, error) => {
    // yargs wraps errors thrown by option coercion in a YError: those are usage errors too.
    if (error && !(error instanceof UsageError) && error.name !== 'YError') {
      // A bug, not a usage problem: show the stack.
      process.stderr.write(`wirespan: internal error: ${error.stack ?? error.message}\n`);
      process.exit(ExitCode.ProcessingError);
    }
    process.stderr.write(
      `wirespan: ${withEnvSource(message ?? error?.message ?? 'usage error')}\nRun "wirespan --help" for usage.\n`,
    );
    process.exit(ExitCode.UsageError);
  })
  .parseAsync();
