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

/** A signed checkpoint of `head`, to be appended in the same transaction as a batch, before it. */
export interface CheckpointRequest {
  head: Head;
  jws: string;
}

export interface WriteResult {
  /** One per event of the batch, in order. */
  links: ChainLink[];
  /** Whether the checkpoint asked for was appended: false when another writer had moved the head. */
  checkpoint: boolean;
}

/** What the audit log needs from its store, whether written on this thread or on a worker. */
export interface EventSink {
  /**
   * One BEGIN IMMEDIATE transaction for the whole batch, led by the checkpoint when one is given
   * and its head is still the head (one commit for both); rejects with the raw store error.
   */
  writeEvents(batch: readonly PendingEvent[], checkpoint?: CheckpointRequest | null): Promise<WriteResult>;
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

  writeEvents(batch: readonly PendingEvent[], checkpoint: CheckpointRequest | null = null): WriteResult {
    this.checkStoreFile();
    const results: ChainLink[] = [];
    let written = false;
    this.db
      .transaction(() => {
        let head: { seq: number; hash: string } | undefined = this.head();
        if (checkpoint) {
          const link = this.appendCheckpoint(head, checkpoint);
          if (link) {
            head = link;
            written = true;
          }
        }
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
    return { links: results, checkpoint: written };
  }

  insertCheckpoint(head: Head, jws: string): boolean {
    this.checkStoreFile();
    let written = false;
    this.db
      .transaction(() => {
        written = this.appendCheckpoint(this.head(), { head, jws }) !== null;
      })
      .immediate();
    return written;
  }

  /** Inside a transaction: the checkpoint event after `now`, if `now` is the head it signed (else another process appended meanwhile: null, sign the new head). */
  private appendCheckpoint(now: ChainLink | undefined, { head, jws }: CheckpointRequest): ChainLink | null {
    if (!now || now.seq !== head.seq || now.hash !== head.hash) return null;
    const seq = head.seq + 1;
    const ts = auditTimestamp();
    const body = canonicalize({ seq, ts, type: 'checkpoint', head: { seq: head.seq, hash: head.hash }, jws });
    const hash = chainHash(head.hash, body);
    this.insertStmt.run(seq, ts, 'checkpoint', body, head.hash, hash);
    return { seq, hash };
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
  writeEvents(batch: readonly PendingEvent[], checkpoint: CheckpointRequest | null = null): Promise<WriteResult> {
    return new Promise((resolve) => resolve(this.w.writeEvents(batch, checkpoint)));
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
