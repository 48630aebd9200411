import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(start: string): string {
  let dir = start;
  for (;;) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'tsconfig.json'))) return dir;
    const up = path.dirname(dir);
    if (up === dir) throw new Error('repository root not found from ' + start);
    dir = up;
  }
}

/** The repository root (works from test/ and from dist/test/). */
export const repoRoot = findRoot(path.dirname(fileURLToPath(import.meta.url)));
/** `../shared` beside the repository: the specs and the public corpora (read, never copied). */
export const sharedDir = path.resolve(repoRoot, '..', 'shared');
export const corpusDir = path.join(sharedDir, 'corpus');
/** The built CLI entry point. */
export const cliPath = path.join(repoRoot, 'bin', 'shellgate.js');
