import { statSync } from 'node:fs';
import Database, { type Statement } from 'better-sqlite3';
import type { Store } from '../store/open-store.js';
import { canonicalize } from './canonicalize.js';
import { auditTimestamp, chainHash, GENESIS_HASH } from './chain-hash.js';

export type Head = { seq: number; hash: string; ts: string; type: string };

/** An event serialised around the one key only the transaction knows (seq). */
export interface PendingEvent {
  type: string;
  ts: string;
  prefix: string;
  suffix: string;
}

export interface ChainLink {
  seq: number;
  hash: string;
}

/** What the audit log needs from its store, whether written on this thread or on a worker. */
export interface EventSink {
  /** One BEGIN IMMEDIATE transaction for the whole batch; rejects with the raw store error. */
  writeEvents(batch: readonly PendingEvent[]): Promise<ChainLink[]>;
  head(): Promise<Head | undefined>;
  /** Append the checkpoint of `head` if it is still the head; false when another writer moved it. */
  insertCheckpoint(head: Head, jws: string): Promise<boolean>;
  close(): Promise<void>;
}

/** `dev:ino` of a file, or 'missing'. */
export function fileIdentity(file: string): string {
  try {
    const st = statSync(file);
    return `${st.dev}:${st.ino}`;
  } catch {
    return 'missing';
  }
}

/**
 * The synchronous writes of the audit log on one connection. The head is read inside each
 * transaction, so another process appending to the same store keeps the chain gap-free.
 */
export class EventWriter {
  private readonly headStmt: Statement;
  private readonly insertStmt: Statement;

  /** `fileId`: the store file's identity when the log opened it (null for an in-memory store). */
  constructor(
    private readonly db: Store,
    private readonly fileId: string | null,
  ) {
    this.headStmt = db.prepare('SELECT seq, hash, ts, type FROM audit_events ORDER BY seq DESC LIMIT 1');
    this.insertStmt = db.prepare('INSERT INTO audit_events (seq, ts, type, body, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?)');
  }

  /** Throws when the store file is gone or replaced: SQLite keeps writing to a deleted file without error, and that would not be evidence. */
  private checkStoreFile(): void {
    if (this.fileId !== null && fileIdentity(this.db.name) !== this.fileId) throw new Error('the store file was removed or replaced');
  }

  head(): Head | undefined {
    return this.headStmt.get() as Head | undefined;
  }

  writeEvents(batch: readonly PendingEvent[]): ChainLink[] {
    this.checkStoreFile();
    const results: ChainLink[] = [];
    this.db
      .transaction(() => {
        const head = this.head();
        let seq = head ? head.seq : 0;
        let prev = head ? head.hash : GENESIS_HASH;
        for (const item of batch) {
          seq += 1;
          const body = item.prefix + seq + item.suffix;
          const hash = chainHash(prev, body);
          this.insertStmt.run(seq, item.ts, item.type, body, prev, hash);
          results.push({ seq, hash });
          prev = hash;
        }
      })
      .immediate();
    return results;
  }

  insertCheckpoint(head: Head, jws: string): boolean {
    this.checkStoreFile();
    let written = false;
    this.db
      .transaction(() => {
        const now = this.head();
        if (!now || now.seq !== head.seq) return; // another process appended meanwhile: sign the new head
        const ts = auditTimestamp();
        const body = canonicalize({ seq: head.seq + 1, ts, type: 'checkpoint', head: { seq: head.seq, hash: head.hash }, jws });
        this.insertStmt.run(head.seq + 1, ts, 'checkpoint', body, head.hash, chainHash(head.hash, body));
        written = true;
      })
      .immediate();
    return written;
  }
}

/**
 * A connection of the audit log's own to the store, for writing: the writer thread's, and the
 * one used in place while the gateway is quiet. fileMustExist: never re-create a store that was
 * removed under us (the identity check reports it). WAL was set by the store's owner; FULL:
 * every commit is fsynced.
 */
export function openWriterConnection(file: string, fileId: string, busyTimeoutMs: number): { db: Database.Database; writer: EventWriter } {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    db.pragma('synchronous = FULL');
    return { db, writer: new EventWriter(db, fileId) };
  } catch (err) {
    db.close();
    throw err;
  }
}

/** The writes on the caller's thread (in-memory and read-only stores, which a worker cannot share). */
export class InlineSink implements EventSink {
  private readonly w: EventWriter;
  constructor(db: Store, fileId: string | null) {
    this.w = new EventWriter(db, fileId);
  }
  writeEvents(batch: readonly PendingEvent[]): Promise<ChainLink[]> {
    return new Promise((resolve) => resolve(this.w.writeEvents(batch)));
  }
  head(): Promise<Head | undefined> {
    return new Promise((resolve) => resolve(this.w.head()));
  }
  insertCheckpoint(head: Head, jws: string): Promise<boolean> {
    return new Promise((resolve) => resolve(this.w.insertCheckpoint(head, jws)));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
