import { Recorder, type AuditEventInput } from '../audit/index.js';
import type { TargetConfig } from '../config/types.js';
import { openLocal } from '../upstream/local-target.js';
import type { PreparedChannel, PtyRequest, SessionOptions } from '../upstream/types.js';
import type { ConnectionState, GatewayDeps } from './context.js';

/** The channel's recording (null when recordings are off). Rejects when the file cannot be created. */
export async function openRecording(deps: GatewayDeps, conn: ConnectionState, channelNo: number, pty: PtyRequest | null, title: string): Promise<Recorder | null> {
  if (!deps.config.recording.enabled) return null;
  return await Recorder.open({
    dir: deps.config.recordings,
    session: conn.session,
    channel: channelNo,
    width: pty?.cols || 80,
    height: pty?.rows || 24,
    title,
    recordInput: deps.config.audit.recordInput,
    inline: deps.inline,
  });
}

/**
 * Get the target ready for a program that may run soon: on an SSH target, open its session
 * channel now (SshPool.prepare); a local target has nothing to open ahead, its process starts in
 * `run`. Every prepared channel is either run or discarded.
 */
export function prepareUpstream(deps: GatewayDeps, target: TargetConfig, opts: SessionOptions): PreparedChannel {
  if (target.kind !== 'local') return deps.pool.prepare(target, opts);
  return { run: async (command) => openLocal(target, command, opts), discard: () => undefined };
}

/**
 * Seal the recording (if any), then append its `recording.sealed` event and the channel's
 * closing event (`command.result`, `shell.end`) together: queued in order in the same turn,
 * they share one durable commit.
 */
export async function sealRecording(deps: GatewayDeps, base: Record<string, unknown>, recorder: Recorder | null, closing: AuditEventInput): Promise<void> {
  let sealed = null;
  let failure: Error | null = null;
  try {
    sealed = recorder ? await recorder.seal() : null;
  } catch (err) {
    failure = err as Error; // the channel's end is logged all the same, saying so
  }
  await Promise.all([
    sealed ? deps.audit.append({ type: 'recording.sealed', ...base, file: sealed.file, size: sealed.size, sha256: sealed.sha256 }) : null,
    deps.audit.append(failure ? { ...closing, recordingError: failure.message } : closing),
  ]);
  if (failure) throw failure;
}
