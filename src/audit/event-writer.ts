import { statSync } from 'node:fs';
import Database, { type Statement } from 'better-sqlite3';
import type { Store } from '../store/open-store.js';
import { canonicalize } from './canonicalize.js';
import { auditTimestamp, chainHash, GENESIS_HASH } from './chain-hash.js';
import type { CheckpointSigner } from './sign-checkpoint.js';

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

/** How a batch places its checkpoints (audit.md: the head is signed at least every N events). */
export interface WriteOptions {
  /** This log's events since its last checkpoint, before the batch. */
  since: number;
  /** A checkpoint after every this many of this log's events (audit.checkpointEvery). */
  every: number;
  /** Also sign the head after the batch, unless it already is a checkpoint (the timer, shutdown). */
  force?: boolean;
}

/** A checkpoint written: the head it signed, and its JWS (for the witness). */
export interface WrittenCheckpoint {
  seq: number;
  hash: string;
  jws: string;
}

export interface WriteResult {
  /** One per event of the batch, in order. */
  links: ChainLink[];
  checkpoints: WrittenCheckpoint[];
  /** This log's events since its last checkpoint, after the batch. */
  since: number;
}

/** What the audit log needs from its store, whether written on this thread or on a worker. */
export interface EventSink {
  /**
   * One BEGIN IMMEDIATE transaction for the whole batch and the checkpoints that fall in it;
   * rejects with the raw store error.
   */
  writeEvents(batch: readonly PendingEvent[], opts: WriteOptions): Promise<WriteResult>;
  head(): Promise<Head | undefined>;
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
    private readonly sign: CheckpointSigner,
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

  /**
   * The batch's events, each checkpoint signed and appended where it falls (right after this
   * log's N-th event since the last one), and with `force` one more for the head at the end:
   * all in one transaction, one commit. Signing here, not before the transaction, is what lets a
   * batch cross the boundary: the head a checkpoint covers is only known in the transaction
   * (another process may append between two of ours).
   */
  writeEvents(batch: readonly PendingEvent[], opts: WriteOptions): WriteResult {
    this.checkStoreFile();
    const links: ChainLink[] = [];
    const checkpoints: WrittenCheckpoint[] = [];
    let since = opts.since;
    this.db
      .transaction(() => {
        const head = this.head();
        let seq = head ? head.seq : 0;
        let prev = head ? head.hash : GENESIS_HASH;
        // The head's ts and type as the batch moves it (undefined: the log is empty).
        let lastTs = head?.ts;
        let lastType = head?.type;
        const checkpoint = (ts: string) => {
          const jws = this.sign({ seq, hash: prev, ts });
          checkpoints.push({ seq, hash: prev, jws });
          const at = auditTimestamp();
          const body = canonicalize({ seq: seq + 1, ts: at, type: 'checkpoint', head: { seq, hash: prev }, jws });
          const hash = chainHash(prev, body);
          this.insertStmt.run(seq + 1, at, 'checkpoint', body, prev, hash);
          seq += 1;
          prev = hash;
          since = 0;
          lastType = 'checkpoint';
        };
        for (const item of batch) {
          seq += 1;
          const body = item.prefix + seq + item.suffix;
          const hash = chainHash(prev, body);
          this.insertStmt.run(seq, item.ts, item.type, body, prev, hash);
          links.push({ seq, hash });
          prev = hash;
          lastTs = item.ts;
          lastType = item.type;
          if (++since >= opts.every) checkpoint(item.ts);
        }
        if (opts.force && lastTs !== undefined) {
          if (lastType !== 'checkpoint') checkpoint(lastTs);
          else since = 0; // already signed
        }
      })
      .immediate();
    return { links, checkpoints, since };
  }
}

/**
 * A connection of the audit log's own to the store, for writing: the writer thread's, and the
 * one used in place while the gateway is quiet. fileMustExist: never re-create a store that was
 * removed under us (the identity check reports it). WAL was set by the store's owner; FULL:
 * every commit is fsynced.
 */
export function openWriterConnection(file: string, fileId: string, busyTimeoutMs: number, sign: CheckpointSigner): { db: Database.Database; writer: EventWriter } {
  const db = new Database(file, { fileMustExist: true });
  try {
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    db.pragma('synchronous = FULL');
    return { db, writer: new EventWriter(db, fileId, sign) };
  } catch (err) {
    db.close();
    throw err;
  }
}

/** The writes on the caller's thread (in-memory and read-only stores, which a worker cannot share). */
export class InlineSink implements EventSink {
  private readonly w: EventWriter;
  constructor(db: Store, fileId: string | null, sign: CheckpointSigner) {
    this.w = new EventWriter(db, fileId, sign);
  }
  writeEvents(batch: readonly PendingEvent[], opts: WriteOptions): Promise<WriteResult> {
    return new Promise((resolve) => resolve(this.w.writeEvents(batch, opts)));
  }
  head(): Promise<Head | undefined> {
    return new Promise((resolve) => resolve(this.w.head()));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}
