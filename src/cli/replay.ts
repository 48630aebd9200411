import { createReadStream, existsSync, readdirSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { AuditError } from '../audit/index.js';
import { UsageError } from '../errors.js';
import { loadConfig } from '../config/load-config.js';
import { parseFlags, type CliIO } from './io.js';
import { isBrokenPipe, write } from './audit-verify.js';

export const help = `usage: shellgate replay SESSION [--config FILE] [--recordings DIR] [--speed N] [--channel C]

Play a recorded session in this terminal with its original timing. SESSION is a session id
(its recordings are found in the recordings folder; every channel is played in order unless
--channel picks one) or the path of a .cast file. --speed 2 plays twice as fast; --speed 0
prints everything at once.`;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    config: { type: 'string' },
    recordings: { type: 'string' },
    speed: { type: 'string' },
    channel: { type: 'string' },
  });
  if (positionals.length !== 1) throw new UsageError('give one SESSION (a session id or a .cast file)');
  const speed = values.speed === undefined ? 1 : Number(values.speed);
  if (!Number.isFinite(speed) || speed < 0) throw new UsageError('--speed must be a number >= 0');
  const files = findRecordings(positionals[0]!, values, io);
  try {
    for (const file of files) await play(file, speed, io);
  } catch (err) {
    if (!isBrokenPipe(err)) throw err;
  }
  return 0;
}

function findRecordings(session: string, values: { config?: string; recordings?: string; channel?: string }, io: CliIO): string[] {
  if (session.endsWith('.cast') || session.includes('/')) {
    const file = path.resolve(io.cwd, session);
    if (!existsSync(file)) throw new AuditError(`no recording at ${file}`);
    return [file];
  }
  const dir =
    values.recordings !== undefined
      ? path.resolve(io.cwd, values.recordings)
      : loadConfig(path.resolve(io.cwd, values.config ?? 'shellgate.yaml'), io.env, { secrets: 'optional' }).recordings;
  const prefix = session + '-';
  const names = (existsSync(dir) ? readdirSync(dir) : [])
    .filter((n) => n.startsWith(prefix) && /^[A-Za-z0-9_.]+\.cast$/.test(n.slice(prefix.length)))
    .filter((n) => values.channel === undefined || n === `${prefix}${values.channel}.cast`)
    .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }));
  if (names.length === 0) throw new AuditError(`no recording for session ${session}${values.channel !== undefined ? ` channel ${values.channel}` : ''} in ${dir}`);
  return names.map((n) => path.join(dir, n));
}

/** Stream the file line by line; sleep until each output event's time (divided by speed). */
async function play(file: string, speed: number, io: CliIO): Promise<void> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  const start = performance.now();
  let header = true;
  for await (const line of lines) {
    if (line.trim() === '') continue;
    let ev: unknown;
    try {
      ev = JSON.parse(line);
    } catch {
      throw new AuditError(`${path.basename(file)}: a line is not JSON (torn recording?)`);
    }
    if (header) {
      header = false;
      if (!ev || typeof ev !== 'object' || (ev as { version?: unknown }).version !== 2) throw new AuditError(`${path.basename(file)}: not an asciicast v2 file`);
      continue;
    }
    if (!Array.isArray(ev) || ev[1] !== 'o' || typeof ev[2] !== 'string' || typeof ev[0] !== 'number') continue;
    if (speed > 0) {
      const wait = (ev[0] * 1000) / speed - (performance.now() - start);
      if (wait > 0) await sleep(wait);
    }
    await write(io.stdout, ev[2]);
  }
}
