/**
 * README.md and docs/*.md link to each other and into the source tree: every relative link
 * must name a file that exists and, with a #fragment, a heading of that page (GitHub's anchor
 * rule), so moving a section or a file cannot leave a dead link behind; and each docs/ page's
 * table of contents (the links above its first section) lists every section.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { repoRoot } from '../helpers/run-cli.ts';

const pages = ['README.md', ...fs.readdirSync(path.join(repoRoot, 'docs')).map((f) => `docs/${f}`)].filter(
  (f) => f.endsWith('.md'),
);

/** Markdown outside fenced code blocks. */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '');
}

/** GitHub's heading anchors (lower case, punctuation dropped, spaces to '-', repeats numbered) and their levels. */
function anchors(text: string): Map<string, number> {
  const seen = new Map<string, number>();
  const result = new Map<string, number>();
  for (const [, hashes, title] of prose(text).matchAll(/^(#{1,6}) (.+)$/gm)) {
    const base = title!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}_\- ]/gu, '')
      .replace(/ /g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.set(count === 0 ? base : `${base}-${count}`, hashes!.length);
  }
  return result;
}

test('every relative link in README.md and docs/ reaches an existing file and heading', () => {
  assert.ok(pages.length >= 9, pages.join(', '));
  const dead: string[] = [];
  for (const page of pages) {
    const text = fs.readFileSync(path.join(repoRoot, page), 'utf8');
    for (const [, target] of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue;
      const [file, fragment] = target!.split('#') as [string, string | undefined];
      const resolved =
        file === '' ? path.join(repoRoot, page) : path.resolve(repoRoot, path.dirname(page), file);
      if (!fs.existsSync(resolved)) {
        dead.push(`${page}: ${target} (no such file)`);
        continue;
      }
      if (fragment !== undefined && !anchors(fs.readFileSync(resolved, 'utf8')).has(fragment)) {
        dead.push(`${page}: ${target} (no such heading)`);
      }
    }
  }
  assert.deepEqual(dead, []);
});

test('every docs/ page opens with a table of contents of all its sections', () => {
  const missing: string[] = [];
  for (const page of pages.filter((p) => p.startsWith('docs/'))) {
    const text = prose(fs.readFileSync(path.join(repoRoot, page), 'utf8'));
    const contents = text.slice(0, text.search(/^## /m));
    for (const [anchor, level] of anchors(text)) {
      if (level !== 2) continue;
      if (!contents.includes(`](#${anchor})`)) missing.push(`${page}: #${anchor}`);
    }
  }
  assert.deepEqual(missing, []);
});
