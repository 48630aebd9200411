import path from 'node:path';
import { once } from 'node:events';
import { PolicyError, UsageError } from '../errors.js';
import { decideLine, initPolicyEngine, loadPolicyFile, type CompiledPolicy, type DecideContext, type LineDecision } from '../policy/index.js';
import { parseFlags, type CliIO } from './io.js';

export const help = `usage: shellgate policy check --policy FILE [--subject SUB] [--group G]... [--target T] [--json] -- 'COMMAND LINE'
       shellgate policy check --policy FILE [--subject SUB] [--group G]... [--target T] --stdin

Decides command lines against a policy file, exactly as the gateway does.

  --policy FILE   the policy file (YAML; see docs/policy.md)
  --subject SUB   the identity's subject (default: empty)
  --group G       a group of the identity (repeatable)
  --target T      the target name (default: empty)
  --json          print the decision as one JSON object
  --stdin         read one command line per input line; print one JSON object per line, in order

Single-line mode exit status: 0 allow, 1 deny, 3 approve, 2 usage or policy-file error.
With --stdin the exit status is 0 unless the policy file is invalid (2).
Words after -- are joined with single spaces into the command line.`;

const EXIT = { allow: 0, deny: 1, approve: 3 } as const;

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(argv, {
    policy: { type: 'string' },
    subject: { type: 'string' },
    group: { type: 'string', multiple: true },
    target: { type: 'string' },
    json: { type: 'boolean' },
    stdin: { type: 'boolean' },
  });
  if (!values.policy) throw new UsageError('--policy FILE is required');
  if (values.stdin && positionals.length) throw new UsageError('give either --stdin or a command line after --, not both');
  if (!values.stdin && positionals.length === 0) throw new UsageError("give a command line after -- (or --stdin)");
  await initPolicyEngine();
  let policy: CompiledPolicy;
  try {
    policy = loadPolicyFile(path.resolve(io.cwd, values.policy));
  } catch (err) {
    if (err instanceof PolicyError) {
      io.stderr.write(`shellgate policy check: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const ctx: DecideContext = { subject: values.subject ?? '', groups: values.group ?? [], target: values.target ?? '' };
  if (values.stdin) {
    await decideStream(policy, ctx, io);
    return 0;
  }
  const d = decideLine(policy, positionals.join(' '), ctx);
  io.stdout.write(values.json ? toJson(d) + '\n' : human(d) + '\n');
  return EXIT[d.decision];
}

function toJson(d: LineDecision): string {
  return JSON.stringify({
    decision: d.decision,
    rule: d.rule,
    reason: d.reason,
    commands: d.commands.map((c) => ({ argv: c.argv, decision: c.decision, rule: c.rule, reason: c.reason, ...(c.unknown ? { unknown: c.unknown } : {}) })),
  });
}

function human(d: LineDecision): string {
  return `${d.decision}${d.rule ? ` (rule ${d.rule})` : ''}: ${d.reason}`;
}

/**
 * One JSON line out per input line, in order, with back-pressure. A line longer than the
 * policy's maxLineBytes is not buffered whole: it is denied once its newline arrives.
 */
async function decideStream(policy: CompiledPolicy, ctx: DecideContext, io: CliIO): Promise<void> {
  const limit = policy.maxLineBytes;
  let parts: Buffer[] = [];
  let size = 0;
  let overflow = false;
  const emit = async (buf: Buffer | null): Promise<void> => {
    const d: LineDecision = buf
      ? decideLine(policy, buf.toString('utf8'), ctx)
      : { decision: 'deny', rule: null, reason: `the line is longer than maxLineBytes (${limit} bytes)`, commands: [] };
    if (!io.stdout.write(toJson(d) + '\n')) await once(io.stdout, 'drain');
  };
  const finishLine = async (): Promise<void> => {
    await emit(overflow ? null : Buffer.concat(parts, size));
    parts = [];
    size = 0;
    overflow = false;
  };
  let sawData = false;
  for await (const chunk of io.stdin as AsyncIterable<Buffer | string>) {
    let buf = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    sawData ||= buf.length > 0;
    for (;;) {
      const nl = buf.indexOf(10);
      const piece = nl < 0 ? buf : buf.subarray(0, nl);
      if (!overflow) {
        if (size + piece.length > limit) {
          overflow = true;
          parts = [];
          size = 0;
        } else if (piece.length) {
          parts.push(Buffer.from(piece));
          size += piece.length;
        }
      }
      if (nl < 0) break;
      await finishLine();
      buf = buf.subarray(nl + 1);
      sawData = false;
    }
  }
  // A last line without a trailing newline is still a line.
  if (sawData || size > 0 || overflow) await finishLine();
}
