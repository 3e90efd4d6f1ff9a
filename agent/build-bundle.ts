/**
 * `npm run build`: the agent as the image runs it, bundled by esbuild into dist/ (gitignored):
 * dist/main.mjs (the CLI: agent/cli/main.mjs), dist/worker.mjs (a pipeline worker:
 * agent/pipeline/worker.mjs) and the chunks they import, every dependency inside, so that
 * dist/ runs without node_modules. Why: Node's module system costs ~0.5-1 ms per module
 * whatever it holds, and `run` loaded ~465 of them before watching (each worker 128); the
 * bundle loads a few dozen files (see docs/performance.md for what that saves).
 *
 * The sources stay what developers, tests and `npm run demo` run; the bundle is the image's
 * (Dockerfile) and the bench's agent row's. It lives here, inside agent/, because it is part
 * of how the agent ships (and the Docker build context already holds agent/).
 *
 * Rules the sources and the bundle share, each kept true by the build:
 * - The lazy imports stay lazy (the metric stack, the command modules, the correlators'
 *   output...): esbuild's code splitting makes each dynamic import() a chunk loaded when the
 *   import runs.
 * - main.mjs and worker.mjs turn on the compile cache before anything else loads (and
 *   main.mjs checks a NODE_COMPILE_CACHE before any module is read from it): their bundles
 *   import nothing but Node's built-in modules statically; the build fails otherwise.
 * - A worker is started from `worker.mjs` next to the module that starts it
 *   (worker-pipeline.ts): every output file is written flat into one directory.
 * - package.json is imported (agent/shared/package-info.ts), so it is inside the bundle.
 * - A module's own `require` (`const require = module.createRequire(import.meta.url)`, for the
 *   packages loaded synchronously at first use: YAML for --config, cli-progress) becomes the
 *   bundle's: the line is dropped, so that esbuild bundles what that require() loads (and
 *   evaluates it only at the call).
 * - yargs' help layout packages load at their first call (agent/cli/help-layout.ts): in the
 *   sources through a resolve hook, here through a stand-in module made by the plugin below.
 * - Dependencies' ES builds made by rolldown load some packages with their own createRequire
 *   (`__require("@grpc/grpc-js")`): rewritten to require() so that the bundled copy is used
 *   (a second grpc-js from node_modules would refuse the first one's credentials).
 *
 * What differs: yargs finds no locale files next to the bundle, so its own messages are in
 * English whatever LANG says (wirespan's are English anyway).
 *
 * Licences: every package whose code is in the bundle is listed with its licence text in
 * dist/THIRD-PARTY-LICENSES.txt (from its own LICENSE file), and the licence comments inside the
 * code are kept at the end of each chunk (esbuild's legalComments 'eof').
 */
import fs from 'node:fs';
import path from 'node:path';
import * as esbuild from 'esbuild';
import { isHelpLayoutImport } from './cli/help-layout.ts';

const repoRoot = path.resolve(import.meta.dirname, '..');

export const kBundleEntries = {
  main: 'agent/cli/main.mjs',
  worker: 'agent/pipeline/worker.mjs',
} as const;

export const kLicensesFile = 'THIRD-PARTY-LICENSES.txt';

const kOwnRequireLine = /^const require = module\.createRequire\(import\.meta\.url\);$/m;
const agentDir = path.join(repoRoot, 'agent', path.sep);

const sharedRules: esbuild.Plugin = {
  name: 'wirespan-bundle-rules',
  setup(build) {
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (!args.path.startsWith(agentDir)) return undefined;
      const source = await fs.promises.readFile(args.path, 'utf8');
      return { contents: source.replace(kOwnRequireLine, ''), loader: 'ts' };
    });
    build.onLoad({ filter: /\/node_modules\/.*\.mjs$/ }, async (args) => {
      const source = await fs.promises.readFile(args.path, 'utf8');
      if (!source.includes('/_rolldown/runtime.mjs') || !source.includes('__require(')) return undefined;
      return { contents: source.replaceAll('__require(', 'require('), loader: 'js' };
    });
    build.onResolve({ filter: /^[^./]/ }, (args) => {
      if (!isHelpLayoutImport(args.path, args.importer)) return undefined;
      return { path: args.path, namespace: 'help-layout', pluginData: args.resolveDir };
    });
    build.onLoad({ filter: /./, namespace: 'help-layout' }, async (args) => {
      const resolveDir = args.pluginData as string;
      const real = await build.resolve(args.path, { kind: 'require-call', resolveDir });
      if (real.errors.length > 0) return { errors: real.errors };
      const helpLayout = path.join(repoRoot, 'agent/cli/help-layout.ts');
      return {
        contents: `import { loadedAtFirstCall } from ${JSON.stringify(helpLayout)};
export default loadedAtFirstCall(() => require(${JSON.stringify(real.path)}));`,
        loader: 'js',
        resolveDir,
      };
    });
  },
};

/** The package directory (node_modules/<name> or node_modules/@scope/<name>, nested ones too) an input belongs to. */
function packageDir(input: string): string | null {
  const match = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  return match ? match[1]! : null;
}

/** Each bundled package's name, version, licence and licence text (LICENSE, LICENCE, COPYING... files). */
function licenseNotices(inputs: readonly string[]): string {
  const dirs = [...new Set(inputs.map(packageDir).filter((dir) => dir !== null))];
  const notices = dirs.map((dir) => {
    const absolute = path.resolve(repoRoot, dir);
    const manifest = JSON.parse(fs.readFileSync(path.join(absolute, 'package.json'), 'utf8')) as {
      name: string;
      version: string;
      license?: string;
    };
    const texts = fs
      .readdirSync(absolute)
      .filter((file) => /^(licen[cs]e|copying|notice)/i.test(file))
      .sort()
      .map((file) => fs.readFileSync(path.join(absolute, file), 'utf8').trim());
    const body =
      texts.length > 0
        ? texts.join('\n\n')
        : `(no licence file in the package; licence: ${manifest.license})`;
    return {
      title: `${manifest.name}@${manifest.version} (${manifest.license ?? 'no licence field'})`,
      body,
    };
  });
  notices.sort((a, b) => a.title.localeCompare(b.title));
  return `${notices.map(({ title, body }) => `${title}\n${'='.repeat(title.length)}\n\n${body}\n`).join('\n')}`;
}

export interface BundleResult {
  outDir: string;
  /** Output files, relative to outDir. */
  files: string[];
  /** Packages whose code is in the bundle (their licences are in THIRD-PARTY-LICENSES.txt). */
  packages: number;
}

/** Builds the bundle into outDir (emptied first). */
export async function buildBundle(outDir: string = path.join(repoRoot, 'dist')): Promise<BundleResult> {
  fs.rmSync(outDir, { recursive: true, force: true });
  const result = await esbuild.build({
    absWorkingDir: repoRoot,
    entryPoints: kBundleEntries,
    outdir: outDir,
    entryNames: '[name]',
    chunkNames: '[name]-[hash]',
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node24',
    // CommonJS dependencies require() Node's built-in modules: an ES module has no require.
    banner: {
      js: "import { createRequire as __wirespanCreateRequire } from 'node:module'; const require = __wirespanCreateRequire(import.meta.url);",
    },
    legalComments: 'eof',
    metafile: true,
    logLevel: 'warning',
    plugins: [sharedRules],
  });
  const outputs = result.metafile.outputs;
  const relative = (file: string) => path.relative(outDir, path.resolve(repoRoot, file));
  const entries = new Set<string>(Object.values(kBundleEntries));
  for (const [file, output] of Object.entries(outputs)) {
    if (output.entryPoint === undefined || !entries.has(output.entryPoint)) continue;
    const loaded = output.imports.filter((i) => i.kind === 'import-statement' && !i.external);
    if (loaded.length > 0)
      throw new Error(`${relative(file)} must import only Node's modules statically, not ${loaded[0]!.path}`);
  }
  const files = Object.keys(outputs).map(relative);
  if (files.some((file) => file.includes('/')))
    throw new Error(`output not flat in ${outDir}: ${files.join(' ')}`);
  const inputs = Object.keys(result.metafile.inputs);
  fs.writeFileSync(path.join(outDir, kLicensesFile), licenseNotices(inputs));
  const packages = new Set(inputs.map(packageDir).filter((dir) => dir !== null)).size;
  return { outDir, files: [...files, kLicensesFile], packages };
}

if (import.meta.main) {
  const started = performance.now();
  const { outDir, files, packages } = await buildBundle(process.argv[2]);
  process.stderr.write(
    `wirespan: bundled into ${path.relative(process.cwd(), outDir) || '.'}: ${files.length} files, ${packages} packages inside, ${Math.round(performance.now() - started)} ms\n`,
  );
}
