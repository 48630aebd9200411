/** Shared bits of the robustness suite: process introspection through /proc, bounded waits, evidence checks. */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { readEvents } from '../helpers/events.js';

/** Resident set size of a process, MB (VmRSS from /proc/PID/status). */
export function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) / 1024;
}

/** Open file descriptors of a process. */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** Every descendant of a process (children, grandchildren…), by walking /proc/N/stat. */
export function descendants(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const stat = readFileSync(`/proc/${e}/stat`, 'utf8');
      // The command name is in parentheses and may hold spaces: fields start after the last ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(e), Number(rest[1]));
    } catch {
      /* exited meanwhile */
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift()!;
    for (const [child, pp] of parent) if (pp === p) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

/** Established TCP connections (IPv4, loopback namespace) whose remote port is `port`. */
export function establishedTo(port: number): number {
  const lines = readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1);
  let n = 0;
  for (const l of lines) {
    const f = l.trim().split(/\s+/);
    if (f.length < 4) continue;
    const remPort = parseInt(f[2]!.split(':')[1]!, 16);
    if (remPort === port && f[3] === '01') n++;
  }
  return n;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Poll `fn` until it returns true, at most `timeoutMs`; returns whether it did. */
export async function until(fn: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > end) return false;
    await sleep(stepMs);
  }
}

/** An agent connection (ssh2 Client) answering the token prompt; optional source address. */
export function connectAgentFrom(port: number, target: string, token: string, extra: Partial<ConnectConfig> = {}): Promise<Client> {
  const client = new Client();
  return new Promise<Client>((resolve, reject) => {
    client.once('ready', () => resolve(client));
    client.once('error', (err) => {
      client.end();
      reject(err);
    });
    client.on('keyboard-interactive', (_n, _i, _l, prompts, finish) => finish(prompts.map(() => token)));
    client.connect({ host: '127.0.0.1', port, username: target, tryKeyboard: true, authHandler: ['keyboard-interactive'], readyTimeout: 20_000, ...extra });
  });
}

/** Exit statuses seen before a caller could listen (see execChannel). */
const earlyExits = new WeakMap<ClientChannel, { code: number | null; signal: string | null }>();

export function execChannel(client: Client, command: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) =>
    client.exec(command, (err, ch) => {
      if (err) return reject(err);
      // ssh2 emits 'exit' as soon as it parses the request. A quick refusal (stderr, exit-status,
      // EOF, close) often arrives in the same read as the exec's success, so it is emitted before
      // a caller awaiting this promise can listen; data and close wait in the stream, 'exit' does not.
      ch.once('exit', (code: number | null, signal?: string) => earlyExits.set(ch, { code, signal: signal ?? null }));
      resolve(ch);
    }),
  );
}

/** Collect a channel to its close: exit status, signal, stdout size and text head, stderr. */
export function collect(ch: ClientChannel, timeoutMs = 30_000): Promise<{ code: number | null; signal: string | null; stdout: string; bytes: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    let code: number | null = earlyExits.get(ch)?.code ?? null;
    let signal: string | null = earlyExits.get(ch)?.signal ?? null;
    let stdout = '';
    let bytes = 0;
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`channel not closed in ${timeoutMs} ms`)), timeoutMs);
    ch.on('data', (d: Buffer) => {
      bytes += d.length;
      if (stdout.length < 65536) stdout += d.toString('utf8');
    });
    ch.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
    ch.on('exit', (c: number | null, s?: string) => {
      code = c;
      signal = s ?? null;
    });
    ch.on('close', () => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, bytes, stderr });
    });
  });
}

/**
 * Every recording the log of the gateway in `dir` says is sealed: the file matches the event's
 * size and SHA-256, starts with an asciicast v2 header and holds whole JSON lines. Returns how many.
 */
export function assertSealedRecordings(dir: string): number {
  const sealed = readEvents(dir).filter((x) => x.type === 'recording.sealed');
  for (const s of sealed) {
    const bytes = readFileSync(path.join(dir, 'recordings', String(s.body.file)));
    assert.equal(bytes.length, s.body.size);
    assert.equal(createHash('sha256').update(bytes).digest('hex'), s.body.sha256);
    const lines = bytes.toString('utf8').trimEnd().split('\n');
    assert.equal((JSON.parse(lines[0]!) as { version: number }).version, 2);
    for (const l of lines.slice(1)) assert.ok(Array.isArray(JSON.parse(l)), 'every recording line is a whole event');
  }
  return sealed.length;
}
