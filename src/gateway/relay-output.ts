import { finished, Transform, type Readable, type Writable } from 'node:stream';
import type { Recorder } from '../audit/index.js';
import type { Masker, MaskStream } from '../masking/index.js';
import type { LiveHub } from './live-hub.js';

/**
 * Passes bytes through and counts them, writing each (already masked) chunk to the recording.
 * A chunk the recording could not take goes no further: the tap fails (ending the relay) and
 * emits 'recording-error' once, so the command can be stopped rather than run on unrecorded.
 */
export class RecordTap extends Transform {
  bytes = 0;
  constructor(
    private readonly recorder: Recorder | null,
    private readonly watch: ((chunk: Buffer) => void) | null = null,
  ) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    try {
      this.recorder?.output(chunk);
    } catch (err) {
      this.emit('recording-error', err);
      cb(err as Error);
      return;
    }
    try {
      this.watch?.(chunk);
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb(null, chunk);
  }
}

/**
 * upstream → masker → recording tap → agent, with back-pressure all the way (a slow agent
 * stops reading, its SSH window closes, our writes block, the upstream window closes).
 * The agent's stream is not ended here: the exit status must be sent before EOF/close.
 * Like stream.pipeline (any error or premature close destroys every stage and rejects), but
 * without its per-call AbortController, whose abort builds a DOMException with a stack trace:
 * ~0.1 ms per command, a tenth of the gateway's own cost per command under load.
 */
export function relayOutput(src: Readable, masker: MaskStream | null, tap: RecordTap, dest: Writable): Promise<void> {
  const stages: (Readable | Transform)[] = masker ? [src, masker, tap] : [src, tap];
  return new Promise((resolve, reject) => {
    let running = stages.length;
    let settled = false;
    const settle = (err: Error | null) => {
      if (settled) return;
      settled = true;
      dest.removeListener('error', settle);
      dest.removeListener('close', onDestClose);
      if (err) {
        tap.unpipe(dest);
        for (const s of stages) s.destroy();
        reject(err);
      } else resolve();
    };
    const onDestClose = () => settle(Object.assign(new Error('the agent channel closed before the output was relayed'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    stages.forEach((s, i) => {
      // The source's writable side is the agent's input: its end is not ours to wait for.
      // The listeners stay: a late error on a finished stage must still be caught.
      finished(s, { readable: true, writable: i > 0 }, (err) => (err ? settle(err) : --running === 0 && settle(null)));
      if (i + 1 < stages.length) s.pipe(stages[i + 1] as Transform);
    });
    tap.pipe(dest, { end: false });
    dest.on('error', settle);
    dest.on('close', onDestClose);
  });
}

export interface OutputPath {
  outMask: MaskStream | null;
  errMask: MaskStream | null;
  outTap: RecordTap;
  errTap: RecordTap;
}

/**
 * The masking and recording stages for one channel's stdout and stderr. Watchers of the
 * session (web console live view) get the same masked bytes, decoded per stream so a split
 * UTF-8 character is never mangled.
 */
export function outputPath(
  deps: { hub: LiveHub },
  session: string,
  channel: number,
  masker: Masker | null,
  recorder: Recorder | null,
  hasStderr: boolean,
): OutputPath {
  const watcher = () => {
    const dec = new TextDecoder('utf-8');
    return (chunk: Buffer) => {
      if (deps.hub.hasWatchers(session)) deps.hub.publish(session, { channel, kind: 'o', data: dec.decode(chunk, { stream: true }) });
    };
  };
  return {
    outMask: masker ? masker.createStream() : null,
    errMask: masker && hasStderr ? masker.createStream() : null,
    outTap: new RecordTap(recorder, watcher()),
    errTap: new RecordTap(recorder, watcher()),
  };
}
