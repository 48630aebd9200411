import { spawnSync } from 'node:child_process';
import os from 'node:os';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Play a recording with the real `asciinema cat` (Debian's asciinema 2.x). It opens
 * /dev/tty, so it runs under `script` for a pseudo-terminal; its output goes to a file
 * (a multi-MB recording drawn through a PTY would take minutes) and `-e` passes its exit
 * status through.
 */
export function asciinemaPlays(file: string): { status: number | null; stderr: string; bytes: number } {
  const q = (s: string) => "'" + s.replace(/'/g, "'\\''") + "'";
  const dir = mkdtempSync(path.join(os.tmpdir(), 'asciinema-'));
  const out = path.join(dir, 'out');
  const r = spawnSync('/usr/bin/script', ['-qec', `/usr/bin/asciinema cat ${q(file)} > ${q(out)}`, '/dev/null'], {
    encoding: 'utf8',
    timeout: 60_000,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOME: os.tmpdir() },
  });
  let bytes = -1;
  try {
    bytes = statSync(out).size;
  } catch {
    /* not written */
  }
  rmSync(dir, { recursive: true, force: true });
  return { status: r.status, stderr: r.stderr + r.stdout.slice(-500), bytes };
}
