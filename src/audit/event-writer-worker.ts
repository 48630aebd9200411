/**
 * Worker thread of the audit log: the durable commits (fsync of the WAL, synchronous=FULL)
 * happen here, on the worker's own connection, so the gateway's event loop keeps relaying
 * while a batch is being made durable. Requests are answered in order, one at a time.
 */
import type Database from 'better-sqlite3';
import { parentPort, workerData } from 'node:worker_threads';
import { openWriterConnection, type EventWriter, type PendingEvent, type WriteOptions } from './event-writer.js';
import { checkpointSigner } from './sign-checkpoint.js';
import type { Ed25519PrivateJwk } from './signing-key.js';

export interface WorkerInit {
  file: string;
  fileId: string;
  busyTimeoutMs: number;
  /** The audit key, to sign checkpoints inside this thread's transactions. */
  signingKey: { kid: string; jwk: Ed25519PrivateJwk };
}

export type WriterRequest =
  | { id: number; op: 'write'; batch: PendingEvent[]; opts: WriteOptions }
  | { id: number; op: 'head' }
  | { id: number; op: 'close' };

export type WriterReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; code: string | null; message: string };

const init = workerData as WorkerInit;
const sign = checkpointSigner(init.signingKey.kid, init.signingKey.jwk);
let writer: EventWriter | null = null;
let db: Database.Database | null = null;

/** Opened lazily and again after a failure (a full disk at start must not disable the log for good). */
function open(): EventWriter {
  if (writer) return writer;
  ({ db, writer } = openWriterConnection(init.file, init.fileId, init.busyTimeoutMs, sign));
  return writer;
}

function handle(req: WriterRequest): unknown {
  switch (req.op) {
    case 'write':
      return open().writeEvents(req.batch, req.opts);
    case 'head':
      return open().head() ?? null;
    case 'close':
      db?.close();
      db = null;
      writer = null;
      return null;
  }
}

parentPort!.on('message', (req: WriterRequest) => {
  let reply: WriterReply;
  try {
    reply = { id: req.id, ok: true, value: handle(req) };
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    reply = { id: req.id, ok: false, code: typeof e?.code === 'string' ? e.code : null, message: String(e?.message ?? err) };
  }
  parentPort!.postMessage(reply);
  if (req.op === 'close') parentPort!.close();
});
