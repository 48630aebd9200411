import { decideLine, type CompiledPolicy, type LineDecision } from '../policy/index.js';
import type { ConnectionState, GatewayDeps } from './context.js';
import { msg } from './messages.js';

export type GateOutcome =
  | { run: true; decision: LineDecision; interactive: boolean; masked: string }
  | {
      run: false;
      message: string | null;
      masked: string;
      /**
       * The line's decision is durable and leaves it open (allowed, or waiting for an approval
       * whose request could not be recorded), but it will not run: the log needs a result
       * saying why, so no one reads that it ran or still waits.
       */
      notRun?: string;
    };

export interface GateIO {
  /** Show a one-line message to the agent (waiting for approval). */
  say(text: string): void;
  /** Register how to abandon a pending approval (Ctrl-C, channel closed); null when none. */
  onCancel(cancel: (() => void) | null): void;
  /** True once the agent's channel is gone. */
  gone(): boolean;
}

export interface GateOptions {
  /** Extra fields for the `command.decision` event (guarded shells: `mode`, `line`). */
  fields?: Record<string, unknown>;
  /** Checks before the policy: a reason to refuse the line whatever the policy says, or null. */
  precheck?: (line: string) => string | null;
  /** Checks of the decided commands: a reason to refuse, or null. */
  postcheck?: (decision: LineDecision) => string | null;
  /** What the refusal messages call the thing refused ("command", "line"). */
  noun: string;
  /**
   * Called when the policy allows the line outright, as its decision goes to the audit log:
   * the caller may prepare (open the recording) while the commit is under way. Nothing may
   * run before gateLine returns `run: true`.
   */
  onAllow?: () => void;
}

/**
 * One command line from an agent (an exec request or a line typed at a guarded prompt):
 * the policy decision, a durable `command.decision` event before anything runs (audit.md),
 * and an approval when the policy asks for one. `run: false` carries the one line to show.
 */
export async function gateLine(
  deps: GatewayDeps,
  conn: ConnectionState,
  base: Record<string, unknown>,
  policy: CompiledPolicy,
  line: string,
  maskText: (s: string) => string,
  io: GateIO,
  opts: GateOptions,
): Promise<GateOutcome> {
  const ctx = { subject: conn.identity.subject, groups: conn.identity.groups, target: conn.target.name };
  const masked = maskText(line);
  let decision: LineDecision;
  const textProblem = opts.precheck?.(line) ?? null;
  if (textProblem) decision = { decision: 'deny', rule: null, reason: textProblem, commands: [] };
  else {
    decision = decideLine(policy, line, ctx);
    const stateProblem = opts.postcheck?.(decision) ?? null;
    if (stateProblem) decision = { ...decision, decision: 'deny', rule: null, reason: stateProblem };
  }
  const argv = decision.commands.map((c) => c.argv.map(maskText));
  // Input reaches the program only when every part of the line is allowed interaction.
  const interactive =
    decision.commands.length > 0 && decision.commands.every((c) => c.rule !== null && policy.rule(c.rule)?.interactive === true);
  const outcome = decision.decision === 'allow' ? 'allowed' : decision.decision === 'deny' ? 'denied' : 'approval requested';
  // The durable append is queued first; the log line and the caller's preparation run while it commits.
  let durable: Promise<unknown>;
  try {
    durable = deps.audit.append({
      type: 'command.decision',
      ...base,
      ...opts.fields,
      command: masked,
      argv,
      decision: decision.decision,
      rule: decision.rule,
      reason: decision.reason,
      policy: policy.name,
      policyVersion: policy.version,
      interactive,
    });
  } catch (err) {
    durable = Promise.reject(err); // a sink that throws is handled like one that rejects
  }
  durable.catch(() => undefined); // awaited below, after the log line
  deps.log.info({ ...base, ...opts.fields, argv, decision: decision.decision, rule: decision.rule, reason: decision.reason }, `${opts.noun} ${outcome}`);
  if (decision.decision === 'allow') opts.onAllow?.();
  try {
    await durable;
  } catch (err) {
    deps.log.error({ ...base, err: (err as Error).message }, `audit append failed: ${opts.noun} refused`);
    return { run: false, message: msg.error(`the audit log cannot be written: ${opts.noun} refused`), masked };
  }
  if (io.gone()) return decision.decision === 'allow' ? { run: false, message: null, masked, notRun: `the agent left before the ${opts.noun} ran: not run` } : { run: false, message: null, masked };
  if (decision.decision === 'deny') return { run: false, message: msg.denied(decision.rule, decision.reason), masked };
  if (decision.decision === 'approve') {
    if (!deps.broker) return { run: false, message: msg.denied(decision.rule, 'approval required'), masked };
    const rule = decision.rule ? policy.rule(decision.rule) : undefined;
    let pending;
    try {
      pending = await deps.broker.request({
        subject: conn.identity.subject,
        groups: conn.identity.groups,
        target: conn.target.name,
        command: masked,
        argv,
        rule: decision.rule ?? '(policy default)',
        approvers: rule?.approvers ?? 1,
        approverGroups: rule?.approverGroups ?? [],
        session: conn.session,
      });
    } catch (err) {
      deps.log.error({ ...base, err: (err as Error).message }, `approval request failed: ${opts.noun} refused`);
      return {
        run: false,
        message: msg.error(`the approval request could not be recorded: ${opts.noun} refused`),
        masked,
        notRun: `the approval request could not be recorded: ${opts.noun} not run`,
      };
    }
    if (io.gone()) {
      pending.cancel();
      return { run: false, message: null, masked };
    }
    io.onCancel(() => pending.cancel());
    io.say(msg.waiting(pending.id, Math.round(deps.config.approvals.timeoutMs / 1000)));
    const result = await pending.wait();
    io.onCancel(null);
    if (result.result === 'cancelled') return { run: false, message: io.gone() ? null : msg.error(`approval #${pending.id} cancelled`), masked };
    if (result.result === 'timeout') return { run: false, message: msg.timedOut(pending.id), masked };
    if (result.result === 'denied') return { run: false, message: msg.deniedByApprover(result.approver, result.reason), masked };
  }
  return { run: true, decision, interactive, masked };
}
