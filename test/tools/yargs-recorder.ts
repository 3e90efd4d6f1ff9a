/**
 * A stand-in for yargs that records the commands and options agent/cli/commands.ts defines
 * instead of parsing anything: make-cli-reference.ts loads commands.ts with `yargs` resolved to
 * this module, so the reference is built from the definitions themselves. Methods it does not
 * know (help, strict, wrap, check, ...) are accepted and chain, so new yargs calls in
 * commands.ts need no change here.
 */

export interface RecordedOption {
  name: string;
  positional: boolean;
  describe?: string;
  type?: string;
  default?: unknown;
  alias?: string | string[];
  choices?: readonly unknown[];
  array?: boolean;
  demandOption?: unknown;
}

export interface RecordedCommand {
  command: string;
  description: string;
  options: RecordedOption[];
  /** `.config(name, describe)`: the option that names a YAML file of flags. */
  config: { name: string; describe: string } | null;
  /** `.env(prefix)`: options also read from PREFIX_* variables. */
  envPrefix: string | null;
}

export const recorded: { usage: string; commands: RecordedCommand[] } = { usage: '', commands: [] };

type Method = (...args: unknown[]) => unknown;

function recorder(command: RecordedCommand | null): unknown {
  const proxy: unknown = new Proxy(
    {},
    {
      get(_target, method): Method | undefined {
        switch (method) {
          case 'then': // not a thenable: `await` on the chain must not call into it
            return undefined;
          case 'usage':
            return (text) => {
              recorded.usage = String(text);
              return proxy;
            };
          case 'command':
            return (name, description, builder) => {
              const recordedCommand: RecordedCommand = {
                command: String(name),
                description: String(description),
                options: [],
                config: null,
                envPrefix: null,
              };
              recorded.commands.push(recordedCommand);
              if (typeof builder === 'function') builder(recorder(recordedCommand));
              return proxy;
            };
          case 'option':
          case 'positional':
            return (name, settings) => {
              command?.options.push({
                name: String(name),
                positional: method === 'positional',
                ...(settings as object),
              });
              return proxy;
            };
          case 'config':
            return (name, describe) => {
              if (command) command.config = { name: String(name), describe: String(describe) };
              return proxy;
            };
          case 'env':
            return (prefix) => {
              if (command) command.envPrefix = String(prefix);
              return proxy;
            };
          case 'getOptions':
            return () => {
              const key: Record<string, boolean> = {};
              const alias: Record<string, string[]> = {};
              for (const option of command?.options ?? []) {
                key[option.name] = true;
                if (option.alias !== undefined) alias[option.name] = [option.alias].flat();
              }
              return { key, alias };
            };
          case 'parse':
          case 'parseAsync':
            return () => Promise.resolve({});
          default:
            return () => proxy;
        }
      },
    },
  );
  return proxy;
}

export default function yargs(): unknown {
  return recorder(null);
}
