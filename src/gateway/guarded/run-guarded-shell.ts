import type { ServerChannel } from 'ssh2';
import type { Recorder } from '../../audit/index.js';
import { appendClosing, openChannelIo, sealRecording } from '../open-channel-io.js';
import type { ExitInfo, UpstreamProcess } from '../../upstream/types.js';
import type { ConnectionState, GatewayDeps } from '../context.js';
import { EXIT_REFUSED, EXIT_UPSTREAM, forTerminal, msg } from '../messages.js';
import { outputPath, relayOutput } from '../relay-output.js';
import { finish, type ChannelRequest } from '../run-program.js';
import { gateLine } from './gate-line.js';
import { buildIntegration, GUARDED_SHELL_COMMAND } from './integration.js';
import { LineEditor } from './line-editor.js';
import { MarkerFilter, type Marker } from './marker-filter.js';

/** How long the shell may take to report its first prompt before the shell is refused. */
export const ESTABLISH_TIMEOUT_MS = 5000;
/** How long the shell may take from a command's end to its next prompt before the session is ended. */
const SYNC_TIMEOUT_MS = 10_000;
/** Type-ahead held while a command runs (decided later, at the prompt); beyond this it is dropped. */
const HOLD_MAX = 65536;

const INTR = 0x03;
const SUSP = 0x1a;
const QUIT = 0x1c;

type State = 'starting' | 'syncing' | 'prompt' | 'deciding' | 'sent' | 'running' | 'closing';


/**
 * An interactive shell where every line is decided before the shell sees it (docs/guarded-shell.md).
 * bash runs under a PTY upstream with a small integration that reports prompt, command start
 * and command end (with the exit status) as nonce-authenticated OSC 133 markers; the gateway
 * strips them, owns the line while the shell is at its prompt, and forwards input to a running
 * program only when the deciding rules allow interaction.
 */
export async function runGuardedShell(deps: GatewayDeps, conn: ConnectionState, ch: ServerChannel, req: ChannelRequest): Promise<void> {
  const { audit, log } = deps;
  const target = conn.target;
  const base = { session: conn.session, subject: conn.identity.subject, target: target.name, channel: req.channelNo };
  const startedAt = Date.now();
  if (!req.pty) {
    // Without a terminal there are no prompts to own: the agent should use exec channels.
    try {
      ch.stderr.write(msg.error(`interactive shells on target ${target.name} are guarded and need a terminal (ssh -t); or run commands with ssh ${target.name}@gateway 'COMMAND'`));
    } catch {
      /* gone */
    }
    finish(ch, { code: EXIT_REFUSED, signal: null });
    return;
  }
  const pty = req.pty;
  let agentGone = false;
  let up: UpstreamProcess | null = null;
  let cancelApproval: (() => void) | null = null;
  const gone = () => {
    agentGone = true;
    up?.close();
    (cancelApproval as (() => void) | null)?.();
  };
  ch.once('close', gone);
  req.connectionClosed?.onClose(gone);
  const refuse = (text: string) => {
    try {
      ch.stderr.write(forTerminal(text, true));
    } catch {
      /* gone */
    }
    finish(ch, { code: EXIT_REFUSED, signal: null });
  };

  // As for a command: the recording and the upstream channel are opened while `shell.start`
  // commits (openChannelIo), and the shell starts only once it is durable.
  let shellStarted: Promise<unknown>;
  try {
    shellStarted = audit.append({ type: 'shell.start', ...base, mode: 'guarded', pty: true });
  } catch (err) {
    shellStarted = Promise.reject(err); // a sink that throws is handled like one that rejects
  }
  shellStarted.catch(() => undefined); // awaited below
  const io = openChannelIo(deps, conn, target, { channelNo: req.channelNo, pty, title: `${conn.identity.subject}@${target.name}: guarded shell`, opts: { pty, env: req.env } });
  // A shell that was logged as started but then does not: its end says why, so no one reads that it ran.
  const endNotStarted = (reason: string) => endEvents(deps, base, null, { code: EXIT_REFUSED, signal: null }, reason, startedAt);
  try {
    await shellStarted;
  } catch (err) {
    await io.drop();
    log.error({ ...base, err: (err as Error).message }, 'audit append failed: shell refused');
    refuse(msg.error('the audit log cannot be written: shell refused'));
    return;
  }
  if (agentGone) {
    await io.drop();
    await endNotStarted('the agent left before the shell started');
    return;
  }

  let recorder: Recorder | null = null;
  try {
    recorder = await io.recording;
  } catch (err) {
    await io.drop();
    log.error({ ...base, err: (err as Error).message }, 'recording cannot be written: shell refused');
    await endNotStarted('recording cannot be written: shell not started');
    refuse(msg.error('the recording cannot be written: shell refused'));
    return;
  }

  const integration = buildIntegration();
  try {
    up = await io.run(GUARDED_SHELL_COMMAND);
  } catch (err) {
    const text = (err as Error).message;
    log.warn({ ...base, err: text }, 'upstream open failed');
    await endEvents(deps, base, recorder, { code: EXIT_UPSTREAM, signal: null, message: text }, 'upstream unavailable', startedAt);
    try {
      ch.stderr.write(forTerminal(msg.error(text), true));
    } catch {
      /* gone */
    }
    finish(ch, { code: EXIT_UPSTREAM, signal: null });
    return;
  }
  const upstream: UpstreamProcess = up;
  if (agentGone) upstream.close();
  req.onUpstream(upstream, recorder);
  upstream.stdin.on('error', () => undefined);
  // The integration is the shell's first input (the tty queues it until bash reads).
  upstream.stdin.write(integration.setupLine);

  const masker = deps.maskerFor(target);
  const maskText = (s: string) => (masker ? masker.maskText(s).text : s);
  const policyFor = () => deps.policies.get(target.policy);

  // ---- state ----
  let state: State = 'starting';
  let failure: string | null = null;
  let interactive = false;
  let lineNo = 0;
  let current: { line: number; started: number; bytesAt: number; countsAt: Record<string, number> } | null = null;
  let held = Buffer.alloc(0);
  let heldOverflow = false;
  let sawPromptStart = false;
  let syncTimer: NodeJS.Timeout | null = null;
  const editor = new LineEditor();

  let forgedLogged = 0;
  const filter = new MarkerFilter(integration.nonce, (m) => onMarker(m), (raw) => {
    // Logged (a few per shell, so a flood cannot fill the log); stripping is what protects.
    if (++forgedLogged <= 5) log.warn({ ...base, marker: maskText(raw) }, 'guarded shell: unauthenticated OSC 133 sequence stripped');
  });
  const say = (text: string) => filter.inject(forTerminal(text, true));
  const showPrompt = () => filter.inject(filter.lastPrompt);

  const { outMask, errMask, outTap, errTap } = outputPath(deps, conn.session, req.channelNo, masker, recorder, upstream.stderr !== null);

  const failClosed = (reason: string) => {
    if (state === 'closing') return;
    failure = reason;
    state = 'closing';
    log.warn({ ...base, reason }, 'guarded shell ended: fail closed');
    say(msg.error(`${reason}: session closed`));
    audit.append({ type: 'shell.violation', ...base, reason }).catch(() => undefined);
    upstream.close();
  };

  const establishTimer = setTimeout(() => {
    if (state !== 'starting') return;
    failure = `the guarded shell could not be established on target ${target.name} within ${ESTABLISH_TIMEOUT_MS / 1000}s (it needs bash 4.4 or later)`;
    state = 'closing';
    upstream.close();
  }, ESTABLISH_TIMEOUT_MS);

  const sendSync = () => {
    state = 'syncing';
    sawPromptStart = false;
    upstream.stdin.write(integration.syncLine);
    if (syncTimer) clearTimeout(syncTimer);
    syncTimer = setTimeout(() => {
      if (state === 'syncing') failClosed('the shell did not return to its prompt');
    }, SYNC_TIMEOUT_MS);
  };

  const onMarker = (m: Marker) => {
    if (state === 'closing') return;
    switch (m.kind) {
      case 'D':
        if (state === 'starting') {
          clearTimeout(establishTimer);
          filter.discard = false;
          log.info({ ...base }, 'guarded shell established');
          sendSync();
        } else if (state === 'sent' || state === 'running') {
          endCommand({ code: m.status ?? null, signal: null });
          sendSync();
        } else failClosed(`shell integration out of step (command end while ${state})`);
        return;
      case 'A':
        if (state === 'syncing') sawPromptStart = true;
        else failClosed(`shell integration out of step (prompt while ${state})`);
        return;
      case 'B':
        if (state !== 'syncing' || !sawPromptStart) return failClosed(`shell integration out of step (prompt end while ${state})`);
        if (syncTimer) clearTimeout(syncTimer);
        state = 'prompt';
        interactive = false;
        // Hold the feed until the prompt text queued before it has gone out.
        setImmediate(() => promptInput(Buffer.alloc(0)));
        return;
      case 'C':
        if (state !== 'sent') return failClosed(`shell integration out of step (command start while ${state})`);
        state = 'running';
        if (interactive && held.length) {
          const h = held;
          held = Buffer.alloc(0);
          upstream.stdin.write(h);
        }
        return;
      case 'P':
        failClosed('the shell asked for a continuation line');
        return;
    }
  };

  const endCommand = (exit: ExitInfo) => {
    if (!current) return;
    const c = current;
    current = null;
    // Detectors that fired during this command only.
    const counts: Record<string, number> = {};
    for (const [k, v] of Object.entries(outMask?.counts() ?? {})) if (v - (c.countsAt[k] ?? 0) > 0) counts[k] = v - (c.countsAt[k] ?? 0);
    appendClosing(deps, {
      type: 'command.result',
      ...base,
      mode: 'guarded',
      line: c.line,
      exit: exit.code,
      signal: exit.signal,
      bytesOut: outTap.bytes - c.bytesAt,
      durationMs: Date.now() - c.started,
      detectors: counts,
    }).catch((err: Error) => log.error({ ...base, err: err.message }, 'audit append failed for command.result'));
  };

  const hold = (d: Buffer) => {
    if (held.length + d.length > HOLD_MAX) {
      if (!heldOverflow) say(msg.error('type-ahead buffer full: further input dropped until the prompt returns'));
      heldOverflow = true;
      return;
    }
    held = Buffer.concat([held, d]);
  };

  /** Input at the prompt: the editor; a completed line goes to the gate, the rest waits. */
  const promptInput = (d: Buffer) => {
    if (state !== 'prompt') return hold(d);
    const text = held.toString('utf8') + d.toString('utf8');
    held = Buffer.alloc(0);
    heldOverflow = false;
    const { events, rest } = editor.feed(text, (s) => filter.inject(s));
    if (rest) held = Buffer.from(rest, 'utf8');
    for (const ev of events) {
      if (ev.kind === 'interrupt') showPrompt();
      else if (ev.kind === 'paste-refused') {
        say(msg.error('multi-line paste refused: paste one line at a time'));
        editor.reset();
        showPrompt();
      } else if (ev.kind === 'eof') {
        filter.inject('\r\n');
        state = 'closing';
        upstream.stdin.write('exit\n');
        return;
      } else if (ev.kind === 'line') {
        decide(ev.line).catch((err: Error) => {
          log.error({ ...base, err: err.message, stack: err.stack }, 'guarded line failed');
          failClosed('internal error while deciding a line');
        });
        return;
      }
    }
  };

  const decide = async (line: string) => {
    if (!line.trim()) {
      showPrompt();
      return promptInput(Buffer.alloc(0));
    }
    state = 'deciding';
    const n = ++lineNo;
    const policy = policyFor();
    const out = await gateLine(deps, conn, base, policy, line, n, integration.prefix, maskText, {
      say,
      onCancel: (c) => {
        cancelApproval = c;
      },
      gone: () => agentGone,
    });
    if (state !== 'deciding') return; // ended meanwhile
    recorder?.marker(`${out.run ? '$' : 'refused:'} ${out.masked}`.slice(0, 500));
    if (state !== 'deciding') {
      // The marker could not be recorded (onRecordingError ended the shell): the line does not
      // go to bash, and an allowed one gets a result saying so, as a command that did not run.
      if (out.run) {
        appendClosing(deps, { type: 'command.result', ...base, mode: 'guarded', line: n, exit: EXIT_REFUSED, signal: null, bytesOut: 0, durationMs: 0, detectors: {}, error: 'the recording cannot be written: line not run' }).catch(
          (err: Error) => log.error({ ...base, err: err.message }, 'audit append failed for a line not run'),
        );
      }
      return;
    }
    if (!out.run) {
      if (out.message) say(out.message);
      state = 'prompt';
      showPrompt();
      return promptInput(Buffer.alloc(0));
    }
    editor.remember(line);
    interactive = out.interactive;
    current = { line: n, started: Date.now(), bytesAt: outTap.bytes, countsAt: { ...(outMask?.counts() ?? {}) } };
    state = 'sent';
    upstream.stdin.write(line + '\n');
  };

  // The recording failed mid-session (a full disk): the shell ends, not left running with
  // output or input no recording holds. The agent is told directly: the output path goes
  // through the recording, which takes nothing more.
  const onRecordingError = (err: Error) => {
    if (state === 'closing' && failure !== null) return;
    failure = 'the recording cannot be written';
    state = 'closing';
    log.error({ ...base, err: err.message }, 'recording cannot be written: shell ended');
    try {
      ch.stderr.write(forTerminal(msg.error('the recording cannot be written: session closed'), true));
    } catch {
      /* gone */
    }
    upstream.close();
  };
  outTap.once('recording-error', onRecordingError);
  errTap.once('recording-error', onRecordingError);
  recorder?.onWriteError(onRecordingError); // input, resizes, markers

  // ---- agent input ----
  if (recorder && deps.config.audit.recordInput) {
    const inMask = masker ? masker.createStream() : null;
    if (inMask) {
      ch.pipe(inMask);
      inMask.on('data', (d: Buffer) => recorder!.input(d));
    } else ch.on('data', (d: Buffer) => recorder!.input(d));
  }
  ch.on('data', (d: Buffer) => {
    switch (state) {
      case 'prompt':
        return promptInput(d);
      case 'running':
      case 'sent': {
        if (state === 'running' && interactive) {
          upstream.stdin.write(d);
          return;
        }
        // A program without interaction gets signals only.
        const sig = [...d].reverse().find((b) => b === INTR || b === SUSP || b === QUIT);
        if (sig !== undefined) {
          // The terminal turns the key into the signal for the foreground program; type-ahead is dropped with it.
          held = Buffer.alloc(0);
          upstream.stdin.write(Buffer.from([sig]));
          return;
        }
        return hold(d);
      }
      case 'deciding':
        if (d.includes(INTR) && cancelApproval) {
          cancelApproval();
          return;
        }
        return hold(d);
      case 'closing':
        return;
      default:
        return hold(d);
    }
  });
  ch.on('end', () => {
    // The agent closed its input: end the shell the way Ctrl-D at an empty prompt would.
    if (state !== 'closing') {
      state = 'closing';
      upstream.close();
    }
  });

  // ---- output ----
  upstream.stdout.pipe(filter);
  const relays = Promise.allSettled([
    relayOutput(filter, outMask, outTap, ch),
    upstream.stderr ? relayOutput(upstream.stderr, errMask, errTap, ch.stderr) : Promise.resolve(),
  ]);

  req.live.terminate = (reason: string) => {
    failure = `session terminated: ${reason}`;
    say(msg.error(failure));
    state = 'closing';
    upstream.close();
  };
  const done = (async () => {
    const exit = await upstream.done;
    (cancelApproval as (() => void) | null)?.();
    clearTimeout(establishTimer);
    if (syncTimer) clearTimeout(syncTimer);
    const wasStarting = filter.discard;
    await relays;
    if (wasStarting && !failure) failure = `the guarded shell could not be established on target ${target.name} (it needs bash 4.4 or later)`;
    endCommand(exit);
    const reason = failure ?? 'shell exited';
    await endEvents(deps, base, recorder, exit, reason, startedAt);
    deps.hub.publish(conn.session, { channel: req.channelNo, kind: 'end' });
    if (agentGone) return;
    if (wasStarting) return refuse(msg.error(failure!));
    finish(ch, failure ? { code: EXIT_REFUSED, signal: null } : exit);
  })();
  await done;
}

async function endEvents(deps: GatewayDeps, base: Record<string, unknown>, recorder: Recorder | null, exit: ExitInfo, reason: string, startedAt: number): Promise<void> {
  try {
    await sealRecording(deps, base, recorder, { type: 'shell.end', ...base, mode: 'guarded', exit: exit.code, signal: exit.signal, reason, durationMs: Date.now() - startedAt });
  } catch (err) {
    deps.log.error({ ...base, err: (err as Error).message }, 'audit append failed at the end of a guarded shell');
  }
}
