/**
 * wirespan's own package.json, imported rather than read from disk next to the module: the same
 * rule holds in the sources and in the bundle (agent/build-bundle.ts), which carries the JSON
 * inside itself and ships no package.json.
 */
import packageJson from '../../package.json' with { type: 'json' };

export const kPackageVersion: string = packageJson.version;

/**
 * The version package.json pins for a dependency (every dependency is pinned exactly, and
 * package-lock.json installs that version; test/shared/package-info.test.ts checks it).
 */
export function pinnedDependencyVersion(name: keyof typeof packageJson.dependencies): string {
  return packageJson.dependencies[name];
}
