import { Worker } from 'node:worker_threads';
import type { EventSink, Head, PendingEvent, WriteOptions, WriteResult } from './event-writer.js';
import type { WorkerInit, WriterReply, WriterRequest } from './event-writer-worker.js';

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

/**
 * The audit log's writes on a worker thread (event-writer-worker.ts). A worker that dies fails
 * its pending requests (the log rejects those appends: the commands they gate do not run) and
 * is started again on the next request.
 */
export class ThreadSink implements EventSink {
  private worker: Worker | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

  constructor(private readonly init: WorkerInit) {}

  writeEvents(batch: readonly PendingEvent[], opts: WriteOptions): Promise<WriteResult> {
    return this.call({
      op: 'write',
      batch: batch.map(({ type, ts, prefix, suffix }) => ({ type, ts, prefix, suffix })),
      opts: { since: opts.since, every: opts.every, force: opts.force === true },
    }) as Promise<WriteResult>;
  }

  async head(): Promise<Head | undefined> {
    return ((await this.call({ op: 'head' })) as Head | null) ?? undefined;
  }

  async close(): Promise<void> {
    const w = this.worker;
    if (!w) return;
    try {
      await this.call({ op: 'close' });
    } finally {
      this.worker = null;
      await w.terminate();
    }
  }

  private call(req: DistributiveOmit<WriterRequest, 'id'>): Promise<unknown> {
    const w = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.pending.size === 1) w.ref(); // an answer is awaited: keep the process alive for it
      w.postMessage({ ...req, id } as WriterRequest);
    });
  }

  private start(): Worker {
    const w = new Worker(new URL('./event-writer-worker.js', import.meta.url), { workerData: this.init });
    w.unref();
    w.on('message', (reply: WriterReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (this.pending.size === 0) w.unref();
      if (reply.ok) p.resolve(reply.value);
      else p.reject(Object.assign(new Error(reply.message), reply.code ? { code: reply.code } : {}));
    });
    const fail = (err: Error) => {
      if (this.worker === w) this.worker = null;
      const waiting = [...this.pending.values()];
      this.pending.clear();
      for (const p of waiting) p.reject(err);
    };
    w.on('error', (err) => fail(new Error(`audit writer thread failed: ${err.message}`)));
    w.on('exit', (code) => fail(new Error(`audit writer thread exited (${code})`)));
    this.worker = w;
    return w;
  }
}
