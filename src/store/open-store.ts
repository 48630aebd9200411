import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import path from 'node:path';

export type Store = Database.Database;

/**
 * Open the SQLite store shared by the audit log, approvals and tickets.
 * WAL so readers (CLI, web console) never block the gateway; synchronous=FULL so a
 * committed audit append survives power loss before the command it allows runs.
 * Several processes may open the same file (gateway + `shellgate approvals`): every
 * writer must use BEGIN IMMEDIATE transactions and never cache state that another
 * process could change.
 */
export function openStore(file: string, opts: { readonly?: boolean } = {}): Store {
  if (!opts.readonly) mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const db = new Database(file, { readonly: !!opts.readonly, fileMustExist: !!opts.readonly });
  db.pragma('busy_timeout = 5000');
  if (!opts.readonly) {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
  }
  db.pragma('foreign_keys = ON');
  return db;
}
