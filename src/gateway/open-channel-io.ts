import path from 'node:path';
import { Recorder, type AuditEventInput } from '../audit/index.js';
import type { TargetConfig } from '../config/types.js';
import { openLocal } from '../upstream/local-target.js';
import type { PtyRequest, UpstreamProcess } from '../upstream/types.js';
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

/** Start a command (or a shell when null) on the target: a local process or a channel on the pooled SSH connection. */
export async function openUpstream(
  deps: GatewayDeps,
  target: TargetConfig,
  command: string | null,
  opts: { pty: PtyRequest | null; env: Record<string, string> },
): Promise<UpstreamProcess> {
  return target.kind === 'local' ? openLocal(target, command, opts) : await deps.pool.open(target, command, opts);
}

/**
 * The end of a channel's evidence. The recording's fsync (on the thread pool) and the commit of
 * the channel's closing event (`command.result`, `shell.end`) run side by side, and the caller
 * sends the exit status once both are durable: one durable step of latency instead of two.
 * The `recording.sealed` event (size and SHA-256) may only be committed once the file is
 * durable, or a power cut could leave the log naming content the disk lost (which `audit
 * verify` would report as tampering). So it is queued after both, and its commit overlaps the
 * agent's reading of the exit status instead of delaying it (queued first, it is still
 * committed before anything the agent does next). If the gateway stops before that commit, its
 * restart seals the file (`recovered: true`) from the same durable bytes. A recording that
 * cannot be sealed gets a `recording.failed` event instead, and the promise rejects.
 */
export async function sealRecording(deps: GatewayDeps, base: Record<string, unknown>, recorder: Recorder | null, closing: AuditEventInput): Promise<void> {
  const [sealed, closed] = await Promise.allSettled([recorder ? recorder.seal({ offLoop: true }) : Promise.resolve(null), deps.audit.append(closing)]);
  if (sealed.status === 'fulfilled' && sealed.value) {
    const { file, size, sha256 } = sealed.value;
    deps.audit
      .append({ type: 'recording.sealed', ...base, file, size, sha256 })
      .catch((err: Error) => deps.log.error({ ...base, file, err: err.message }, 'audit append failed for recording.sealed (a restart seals the file)'));
  }
  if (sealed.status === 'rejected') {
    const error = (sealed.reason as Error).message;
    await deps.audit.append({ type: 'recording.failed', ...base, file: recorder ? path.basename(recorder.file) : null, error }).catch(() => undefined);
  }
  if (closed.status === 'rejected') throw closed.reason;
  if (sealed.status === 'rejected') throw sealed.reason;
}
