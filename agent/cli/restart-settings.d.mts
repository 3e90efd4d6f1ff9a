/** Types of restart-settings.mjs (plain JavaScript, loaded before type stripping is needed). */
export interface RestartSettings {
  /** V8 flags to add to the command line. */
  flags: string[];
  /** Environment variables to add. */
  env: Record<string, string>;
}

export function restartSettings(
  argv: readonly string[],
  execArgv: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): RestartSettings | null;
