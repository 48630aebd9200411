import type { ServerChannel } from 'ssh2';
import type { Recorder } from '../audit/index.js';
import { appendClosing, openChannelIo, sealRecording, type ChannelIo } from './open-channel-io.js';
import type { ExitInfo, PtyRequest, UpstreamProcess } from '../upstream/types.js';
import type { ConnectionState, GatewayDeps, LiveChannel } from './context.js';
import { EXIT_REFUSED, EXIT_UPSTREAM, forTerminal, msg } from './messages.js';
import { outputPath, relayOutput } from './relay-output.js';
import { gateLine } from './gate-line.js';
import type { CloseSignal } from './close-signal.js';

export interface ChannelRequest {
  channelNo: number;
  /** The command line, or null for an interactive shell. */
  command: string | null;
  pty: PtyRequest | null;
  env: Record<string, string>;
  /** Set once the upstream program runs, so window-change and signal requests reach it (and the recording). */
  onUpstream(up: UpstreamProcess, recorder: Recorder | null): void;
  /**
   * Fires when the agent's connection is gone. ssh2 emits an unread channel's 'close' only
   * after its input is consumed, which never happens while a command waits for an approval.
   * One per channel, linked to the connection's only while the channel runs.
   */
  connectionClosed?: CloseSignal;
  /** This channel in the gateway's running set: its terminate() is ours to define. */
  live: LiveChannel;
}

/** Finish the agent's channel: exit status (or signal) first, then EOF and close (RFC 4254 §6.10). */
export function finish(ch: ServerChannel, exit: ExitInfo): void {
  try {
    if (exit.signal) ch.exit(exit.signal, !!exit.coreDumped, exit.message ?? '');
    else ch.exit(exit.code ?? EXIT_UPSTREAM);
  } catch {
    /* channel already closed by the agent */
  }
  ch.end();
}

function refuse(ch: ServerChannel, text: string, pty: boolean): void {
  try {
    ch.stderr.write(forTerminal(text, pty));
  } catch {
    /* gone */
  }
  finish(ch, { code: EXIT_REFUSED, signal: null });
}

/**
 * One exec or shell channel: decide (exec), record the decision durably, ask for an
 * approval if needed, then run the program upstream with its output masked and recorded.
 */
export async function runProgram(deps: GatewayDeps, conn: ConnectionState, ch: ServerChannel, req: ChannelRequest): Promise<void> {
  const { audit, log } = deps;
  const target = conn.target;
  const base = { session: conn.session, subject: conn.identity.subject, target: target.name, channel: req.channelNo };
  const isPty = req.pty !== null;
  let agentGone = false;
  let up: UpstreamProcess | null = null;
  let cancel: (() => void) | null = null;
  const gone = () => {
    agentGone = true;
    up?.close();
    cancel?.();
  };
  ch.once('close', gone);
  req.connectionClosed?.onClose(gone);
  req.live.terminate = (reason: string) => {
    try {
      ch.stderr.write(forTerminal(msg.error(`session terminated: ${reason}`), isPty));
    } catch {
      /* gone */
    }
    if (up) up.close(); // the program ends: its result is logged and the exit status sent
    else {
      gone(); // still deciding or waiting for an approval: nothing ran
      finish(ch, { code: EXIT_REFUSED, signal: null });
    }
  };

  const masker = deps.maskerFor(target);
  const maskText = (s: string) => (masker ? masker.maskText(s).text : s);
  const started = Date.now();

  // A command the log shows as allowed but that then does not run gets a result saying so, so
  // no one reads that it ran.
  const logNotRun = (why: string) =>
    appendClosing(deps, { type: 'command.result', ...base, exit: EXIT_REFUSED, signal: null, bytesOut: 0, durationMs: Date.now() - started, detectors: {}, error: why }).catch(
      (e: Error) => log.error({ ...base, err: e.message }, 'audit append failed for a command not run'),
    );

  // The recording and the upstream channel are opened while the decision commits (openChannelIo);
  // after an approval, only then.
  const title = `${conn.identity.subject}@${target.name}${req.command !== null ? ': ' + maskText(req.command).slice(0, 200) : ''}`;
  const openIo = () => openChannelIo(deps, conn, target, { channelNo: req.channelNo, pty: req.pty, title, opts: { pty: req.pty, env: req.env } });
  let early: ChannelIo | null = null;

  if (req.command !== null) {
    const out = await gateLine(deps, conn, base, deps.policies.get(target.policy), req.command, maskText, {
      say: (text) => ch.stderr.write(forTerminal(text, isPty)),
      onCancel: (c) => {
        cancel = c;
      },
      gone: () => agentGone,
    }, {
      noun: 'command',
      onAllow: () => {
        early = openIo();
      },
    });
    if (!out.run) {
      await (early as ChannelIo | null)?.drop();
      if (out.notRun) await logNotRun(out.notRun);
      if (out.message && !agentGone) refuse(ch, out.message, isPty);
      return;
    }
  } else {
    early = openIo();
    try {
      await audit.append({ type: 'shell.start', ...base, mode: 'passthrough', pty: isPty });
    } catch (err) {
      await early.drop();
      log.error({ ...base, err: (err as Error).message }, 'audit append failed: shell refused');
      refuse(ch, msg.error('the audit log cannot be written: shell refused'), isPty);
      return;
    }
  }

  // Allowed: run it. (TypeScript narrows `early`, assigned in a closure, to null here.)
  const io = (early as ChannelIo | null) ?? openIo();
  let recorder: Recorder | null = null;
  try {
    recorder = await io.recording;
  } catch (err) {
    log.error({ ...base, err: (err as Error).message }, 'recording cannot be written: command refused');
    await io.drop();
    await logNotRun('recording cannot be written: command not run');
    refuse(ch, msg.error('the recording cannot be written: command refused'), isPty);
    return;
  }

  try {
    const starting = io.run(req.command);
    // The recording's creation and header made durable while the program starts and runs, not
    // at the seal on the way to the exit status (after the decision's commit: not competing
    // with it for the disk). Only while lightly loaded: under load it is one more fsync each.
    if (deps.inline.lightlyLoaded()) recorder?.syncAhead();
    up = await starting;
  } catch (err) {
    const text = (err as Error).message;
    log.warn({ ...base, err: text }, 'upstream open failed');
    try {
      ch.stderr.write(forTerminal(msg.error(text), isPty));
    } catch {
      /* gone */
    }
    const logFinished = await sealAndLog(deps, base, recorder, { code: EXIT_UPSTREAM, signal: null, message: text }, 0, started, {});
    finish(ch, { code: EXIT_UPSTREAM, signal: null });
    logFinished();
    return;
  }
  if (agentGone) up.close();
  req.onUpstream(up, recorder);

  const { outMask, errMask, outTap, errTap } = outputPath(deps, conn.session, req.channelNo, masker, recorder, up.stderr !== null);

  // The recording failed mid-command (a full disk): the program is stopped, not left running
  // with output or input no recording holds; the agent is told why.
  let recordingError: Error | null = null;
  const program = up;
  const onRecordingError = (err: Error) => {
    if (recordingError) return;
    recordingError = err;
    log.error({ ...base, err: err.message }, 'recording cannot be written: command stopped');
    ch.unpipe(program.stdin);
    program.close();
  };
  outTap.once('recording-error', onRecordingError);
  errTap.once('recording-error', onRecordingError);
  recorder?.onWriteError(onRecordingError); // input, resizes, markers

  // Agent input → program (classic pipe: back-pressure, EOF forwarded).
  if (recorder && deps.config.audit.recordInput) {
    const inMask = masker ? masker.createStream() : null;
    if (inMask) {
      ch.pipe(inMask);
      inMask.on('data', (d: Buffer) => recorder!.input(d));
    } else ch.on('data', (d: Buffer) => recorder!.input(d));
  }
  ch.pipe(up.stdin);
  up.stdin.on('error', () => undefined);

  const relays = Promise.allSettled([
    relayOutput(up.stdout, outMask, outTap, ch),
    up.stderr ? relayOutput(up.stderr, errMask, errTap, ch.stderr) : Promise.resolve(),
  ]);
  const done = (async () => {
    let exit = await program.done;
    const settled = await relays;
    const failed = settled.find((s) => s.status === 'rejected') as PromiseRejectedResult | undefined;
    if (failed && !agentGone && !recordingError) log.warn({ ...base, err: String(failed.reason?.message ?? failed.reason) }, 'output relay failed');
    const stopped = recordingError as Error | null;
    if (stopped) {
      // The log keeps what the program did; the agent gets the refusal (its output is cut).
      const why = `the recording cannot be written (${(stopped as NodeJS.ErrnoException).code ?? 'error'}): command stopped`;
      exit = { ...exit, message: exit.message ? `${why}; ${exit.message}` : why };
      if (!agentGone) {
        try {
          ch.stderr.write(forTerminal(msg.error('the recording cannot be written: command stopped'), isPty));
        } catch {
          /* gone */
        }
      }
    }
    const counts: Record<string, number> = {};
    for (const m of [outMask, errMask]) for (const [k, v] of Object.entries(m?.counts() ?? {})) counts[k] = (counts[k] ?? 0) + v;
    // The exit status goes out only once the recording is sealed and the result is durable: when
    // an agent's command returns, its evidence is complete (an fsync and a commit of latency).
    const logFinished = await sealAndLog(deps, base, recorder, exit, outTap.bytes + errTap.bytes, started, counts);
    if (!agentGone) finish(ch, stopped ? { code: EXIT_REFUSED, signal: null } : exit);
    // After the exit status: neither is evidence, and the agent need not wait for them.
    logFinished();
    deps.hub.publish(conn.session, { channel: req.channelNo, kind: 'end' });
  })();
  await done;
}

async function sealAndLog(
  deps: GatewayDeps,
  base: Record<string, unknown>,
  recorder: Recorder | null,
  exit: ExitInfo,
  bytesOut: number,
  started: number,
  detectors: Record<string, number>,
): Promise<() => void> {
  try {
    await sealRecording(deps, base, recorder, {
      type: 'command.result',
      ...base,
      exit: exit.code,
      signal: exit.signal,
      bytesOut,
      durationMs: Date.now() - started,
      detectors,
      ...(exit.message ? { error: exit.message } : {}),
    });
    // The operator's log line, returned to be written once the agent has its exit status.
    return () => deps.log.info({ ...base, exit: exit.code, signal: exit.signal, bytesOut, detectors }, 'command finished');
  } catch (err) {
    deps.log.error({ ...base, err: (err as Error).message }, 'audit append failed after the command ran');
    return () => undefined;
  }
}
