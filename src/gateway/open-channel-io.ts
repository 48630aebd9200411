import path from 'node:path';
import { Recorder, type AuditEventInput } from '../audit/index.js';
import type { TargetConfig } from '../config/types.js';
import { openLocal } from '../upstream/local-target.js';
import type { PreparedChannel, PtyRequest, SessionOptions, UpstreamProcess } from '../upstream/types.js';
import type { ConnectionState, GatewayDeps } from './context.js';

/** The channel's recording (null when recordings are off). Rejects when the file cannot be created. */
async function openRecording(deps: GatewayDeps, conn: ConnectionState, channelNo: number, pty: PtyRequest | null, title: string): Promise<Recorder | null> {
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
function prepareUpstream(deps: GatewayDeps, target: TargetConfig, opts: SessionOptions): PreparedChannel {
  if (target.kind !== 'local') return deps.pool.prepare(target, opts);
  return { run: async (command) => openLocal(target, command, opts), discard: () => undefined };
}

/** A channel's recording and upstream program, started side by side with the commit that allows them. */
export interface ChannelIo {
  /** The recording (null when recordings are off); rejects when the file cannot be created. */
  readonly recording: Promise<Recorder | null>;
  /** Start the program (or the shell, when null) on the channel taken early, else on one taken now. */
  run(command: string | null): Promise<UpstreamProcess>;
  /**
   * Close the channel taken early unused and delete the recording: what was opened for a
   * program that then does not run. Awaited before a refusal goes out, so the agent never
   * sees a refusal while the file exists.
   */
  drop(): Promise<void>;
}

/**
 * Open the channel's recording now, and, while the gateway is lightly loaded, take or open its
 * upstream channel: called as the decision (or `shell.start`) is queued, so a durable step and
 * a round trip run side by side with its commit. The program itself starts (`run`) only once
 * that commit is durable. Under load a slot held through a long commit is one a waiting
 * command cannot have, so the upstream channel is then taken only by `run`.
 */
export function openChannelIo(
  deps: GatewayDeps,
  conn: ConnectionState,
  target: TargetConfig,
  channel: { channelNo: number; pty: PtyRequest | null; title: string; opts: SessionOptions },
): ChannelIo {
  const recording = openRecording(deps, conn, channel.channelNo, channel.pty, channel.title);
  recording.catch(() => undefined); // awaited by the caller; a failure is handled there
  const prepared = deps.inline.lightlyLoaded() ? prepareUpstream(deps, target, channel.opts) : null;
  return {
    recording,
    run: (command) => (prepared ?? prepareUpstream(deps, target, channel.opts)).run(command),
    drop: async () => {
      prepared?.discard();
      await recording.then((r) => r?.discard()).catch(() => undefined);
    },
  };
}

/**
 * Seal the recording (if any), then append its `recording.sealed` event and the channel's
 * closing event (`command.result`, `shell.end`) together: queued in order in the same turn,
 * they share one durable commit. A recording that cannot be sealed (its fsync failed: a disk
 * error) gets no `recording.sealed`; the closing event says why (`recordingError`), the
 * operator's log too, and the next start seals it if its fsync then succeeds. Rejects only
 * when the events cannot be appended.
 */
export async function sealRecording(deps: GatewayDeps, base: Record<string, unknown>, recorder: Recorder | null, closing: AuditEventInput): Promise<void> {
  let sealed = null;
  let failure: Error | null = null;
  try {
    sealed = recorder ? await recorder.seal() : null;
  } catch (err) {
    failure = err as Error; // the channel's end is logged all the same, saying so
    deps.log.error({ ...base, file: recorder ? path.basename(recorder.file) : undefined, err: failure.message }, 'recording could not be sealed');
  }
  await Promise.all([
    sealed ? appendClosing(deps, { type: 'recording.sealed', ...base, file: sealed.file, size: sealed.size, sha256: sealed.sha256 }) : null,
    appendClosing(deps, failure ? { ...closing, recordingError: failure.message } : closing),
  ]);
}

/**
 * Append a channel's closing event; one that cannot be appended now (the store's disk full or
 * failing) is kept for its session's end, where it is tried again (gateway.ts), so a command
 * that ran is not left without its result once the disk has room again. Rejects as the append did.
 */
export async function appendClosing(deps: GatewayDeps, event: AuditEventInput): Promise<void> {
  try {
    await deps.audit.append(event);
  } catch (err) {
    const session = String(event.session);
    const kept = deps.unlogged.get(session);
    if (kept) kept.push(event);
    else deps.unlogged.set(session, [event]);
    throw err;
  }
}
