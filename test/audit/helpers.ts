import { mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { openStore, type Store } from '../../src/store/open-store.js';
import { AuditLog, ensureAuditSchema, type AuditOptions } from '../../src/audit/index.js';

/** A fresh temp folder, removed after the test (when a TestContext is given). */
export function tmpDir(t?: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'shellgate-audit-'));
  t?.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function storeFile(dir: string): string {
  return path.join(dir, 'data', 'shellgate.db');
}

export function newStore(dir: string): Store {
  const db = openStore(storeFile(dir));
  ensureAuditSchema(db);
  return db;
}

export function auditOptions(dir: string, over: Partial<AuditOptions> = {}): AuditOptions {
  return {
    dataDir: path.join(dir, 'data'),
    checkpointEvery: 1000,
    checkpointIntervalMs: 3_600_000,
    witness: null,
    witnessUrl: null,
    ...over,
  };
}

export function openLog(db: Store, dir: string, over: Partial<AuditOptions> = {}): Promise<AuditLog> {
  return AuditLog.open(db, auditOptions(dir, over));
}

/**
 * `asciinema cat FILE`: the real CLI must accept every recording we produce. asciinema 2.2
 * opens /dev/tty, so it runs under `script` (util-linux) for a pseudo-terminal; `-e` passes
 * asciinema's exit status through.
 */
export function asciinemaCat(file: string): { status: number | null; stdout: string; stderr: string } {
  return asciinema('cat', file);
}

/** `asciinema play` at high speed: the player must also accept every event type we write. */
export function asciinemaPlay(file: string): { status: number | null; stdout: string; stderr: string } {
  return asciinema('play -s 50 -i 0.05', file);
}

function asciinema(sub: string, file: string): { status: number | null; stdout: string; stderr: string } {
  const quoted = "'" + file.replace(/'/g, "'\\''") + "'";
  const r = spawnSync('/usr/bin/script', ['-qec', `/usr/bin/asciinema ${sub} ${quoted}`, '/dev/null'], {
    encoding: 'utf8',
    timeout: 20_000,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, HOME: os.tmpdir() },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr + r.stdout.slice(-2000) };
}

/** A logger that keeps what it was told. */
export function memoryLogger() {
  const lines: { level: string; obj: object; msg: string }[] = [];
  return {
    lines,
    warn: (obj: object, msg: string) => void lines.push({ level: 'warn', obj, msg }),
    info: (obj: object, msg: string) => void lines.push({ level: 'info', obj, msg }),
  };
}
