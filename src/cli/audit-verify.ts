import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import { loadAuditPublicKey, verifyAudit, AuditError, type JsonWebKey, type VerifyResult } from '../audit/index.js';
import { loadConfig } from '../config/load-config.js';
import type { Config } from '../config/types.js';
import { openStore, type Store } from '../store/open-store.js';
import { parseFlags, print, type CliIO } from './io.js';

export const help = `usage: shellgate audit verify [--config FILE] [--db FILE] [--recordings DIR] [--witness FILE] [--pubkey FILE] [--json]

Recompute the audit hash chain from seq 1 (hashes, prev_hash links, gaps), check every
checkpoint's Ed25519 signature, every sealed recording's size and SHA-256, and the witness
file's checkpoints against the chain (a truncated or rewritten tail).

  --config FILE      config file (default ./shellgate.yaml; with --db, used when it is that
                     store's config)
  --db FILE          the SQLite store (overrides the config's store)
  --recordings DIR   recordings folder (default: the config's; without a config, not checked)
  --witness FILE     witness file (default: the config's audit.witness)
  --pubkey FILE      checkpoint public key as a JWK (default: the key in the data dir)
  --json             print {"ok","events","checkpoints","recordings","problems"}

Exit 0 when everything holds, 1 with the first failing seq (or file) and reason otherwise.`;

/** Where the audit material is, from --config and explicit flags (flags win). */
export interface AuditPaths {
  store: string;
  dataDir: string;
  recordings: string | null;
  witness: string | null;
}

export function resolveAuditPaths(
  values: { config?: string | undefined; db?: string | undefined; recordings?: string | undefined; witness?: string | undefined },
  io: CliIO,
): AuditPaths {
  const abs = (p: string) => path.resolve(io.cwd, p);
  let cfg: Config | null = null;
  if (values.config !== undefined || values.db === undefined) cfg = loadConfig(abs(values.config ?? 'shellgate.yaml'), io.env, { secrets: 'optional' });
  else cfg = defaultConfigFor(abs(values.db), abs('shellgate.yaml'), io.env);
  const store = values.db !== undefined ? abs(values.db) : cfg!.store;
  return {
    store,
    dataDir: cfg?.dataDir ?? path.dirname(store),
    recordings: values.recordings !== undefined ? abs(values.recordings) : (cfg?.recordings ?? null),
    witness: values.witness !== undefined ? abs(values.witness) : (cfg?.audit.witness ?? null),
  };
}

/**
 * With `--db` and no `--config`: the default config (./shellgate.yaml) still says where that
 * store's recordings, witness and key are, when it is that store's config (the same file).
 * Otherwise (no such file, another store, a config that does not load here) none: the flags
 * alone say what to check, and the output says what was not.
 */
function defaultConfigFor(store: string, file: string, env: NodeJS.ProcessEnv): Config | null {
  if (!existsSync(file)) return null;
  let cfg: Config;
  try {
    cfg = loadConfig(file, env, { secrets: 'optional' });
  } catch {
    return null;
  }
  return sameFile(cfg.store, store) ? cfg : null;
}

function sameFile(a: string, b: string): boolean {
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return path.resolve(a) === path.resolve(b);
  }
}

/** The store, read-only: verification and listing never write. */
export function openStoreReadOnly(file: string): Store {
  if (!existsSync(file)) throw new AuditError(`no store at ${file}`);
  return openStore(file, { readonly: true });
}

/** Write with back-pressure. */
export async function write(stream: NodeJS.WritableStream, text: string): Promise<void> {
  if (!stream.write(text)) await once(stream, 'drain');
}

/** A reader that went away (`… | head`) ends the output quietly, as other CLI tools do. */
export function isBrokenPipe(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'EPIPE';
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(
    argv,
    {
      config: { type: 'string' },
      db: { type: 'string' },
      recordings: { type: 'string' },
      witness: { type: 'string' },
      pubkey: { type: 'string' },
      json: { type: 'boolean' },
    },
    false,
  );
  const paths = resolveAuditPaths(values, io);
  let publicKey: JsonWebKey | null = null;
  if (values.pubkey !== undefined) {
    const file = path.resolve(io.cwd, values.pubkey);
    try {
      publicKey = JSON.parse(readFileSync(file, 'utf8')) as JsonWebKey;
    } catch (err) {
      throw new AuditError(`cannot read the public key ${file}: ${(err as Error).message.split('\n')[0]}`);
    }
  } else {
    publicKey = await loadAuditPublicKey(paths.dataDir).catch(() => null);
  }
  let db: Store;
  try {
    db = openStoreReadOnly(paths.store);
  } catch (err) {
    if (!values.json || !(err instanceof AuditError)) throw err;
    // A missing log is a failed verification (it may have been deleted), in the shape asked for.
    const missing: VerifyResult = { ok: false, events: 0, checkpoints: 0, recordings: 0, problems: [{ seq: null, file: paths.store, reason: err.message }] };
    print(io.stdout, JSON.stringify(missing));
    return 1;
  }
  let result: VerifyResult;
  try {
    result = await verifyAudit({ db, recordingsDir: paths.recordings, witness: paths.witness, publicKey });
  } finally {
    db.close();
  }
  if (!publicKey && result.checkpoints > 0) {
    // Fail closed: unchecked signatures are not evidence.
    result.problems.push({ seq: null, file: null, reason: 'no public key to check checkpoint signatures (give --pubkey FILE)' });
    result.ok = false;
  }
  if (values.json) {
    print(io.stdout, JSON.stringify(result));
  } else if (result.ok) {
    print(
      io.stdout,
      `audit OK: ${result.events} events, ${result.checkpoints} signed checkpoints, ${result.recordings} recordings` +
        (paths.recordings === null ? ' (recordings not checked: no folder given)' : ''),
    );
  } else {
    const p = result.problems[0]!;
    const where = p.seq !== null ? `seq ${p.seq}` + (p.file ? ` (${p.file})` : '') : p.file ? `file ${p.file}` : 'store';
    print(io.stderr, `audit FAILED at ${where}: ${p.reason}`);
    if (result.problems.length > 1) print(io.stderr, `(${result.problems.length} problems in all; --json lists them)`);
  }
  return result.ok ? 0 : 1;
}
