import { Transform, type Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Recorder } from '../audit/index.js';
import type { Masker, MaskStream } from '../masking/index.js';
import type { LiveHub } from './live-hub.js';

/** Passes bytes through and counts them, writing each (already masked) chunk to the recording. */
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
 */
export async function relayOutput(src: Readable, masker: MaskStream | null, tap: RecordTap, dest: Writable): Promise<void> {
  if (masker) await pipeline(src, masker, tap, dest, { end: false });
  else await pipeline(src, tap, dest, { end: false });
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
