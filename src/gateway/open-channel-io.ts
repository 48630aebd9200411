import { Recorder } from '../audit/index.js';
import type { TargetConfig } from '../config/types.js';
import { openLocal } from '../upstream/local-target.js';
import type { PtyRequest, UpstreamProcess } from '../upstream/types.js';
import type { ConnectionState, GatewayDeps } from './context.js';

/** The channel's recording (null when recordings are off). Throws when the file cannot be created. */
export function openRecording(deps: GatewayDeps, conn: ConnectionState, channelNo: number, pty: PtyRequest | null, title: string): Recorder | null {
  if (!deps.config.recording.enabled) return null;
  return Recorder.open({
    dir: deps.config.recordings,
    session: conn.session,
    channel: channelNo,
    width: pty?.cols || 80,
    height: pty?.rows || 24,
    title,
    recordInput: deps.config.audit.recordInput,
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

/** Seal the recording (if any) and bind it into the chain with a `recording.sealed` event. */
export async function sealRecording(deps: GatewayDeps, base: Record<string, unknown>, recorder: Recorder | null): Promise<void> {
  if (!recorder) return;
  const sealed = recorder.seal();
  await deps.audit.append({ type: 'recording.sealed', ...base, file: sealed.file, size: sealed.size, sha256: sealed.sha256 });
}
