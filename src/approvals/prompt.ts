import { createInterface } from 'node:readline';
import type { ApprovalsBackend } from './cli-backend.js';
import type { PendingSummary } from './types.js';

export function timeLeft(expiresAt: string, now = Date.now()): string {
  const s = Math.max(0, Math.round((Date.parse(expiresAt) - now) / 1000));
  return s >= 60 ? `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/** One request, as the prompt and `approvals list` show it. */
export function describeRequest(r: PendingSummary, now = Date.now()): string {
  const groups = r.groups.length ? ` (${r.groups.join(', ')})` : '';
  const need = r.approvers > 1 ? `   approvals ${r.approvals}/${r.approvers}` : '';
  const only = r.approverGroups.length ? `   approvers from: ${r.approverGroups.join(', ')}` : '';
  return `#${r.id}  ${r.subject}${groups} → ${r.target}   rule ${r.rule}   ${timeLeft(r.expiresAt, now)} left${need}${only}\n    $ ${r.command}`;
}

/** Lines from the terminal, one at a time; null at end of input. */
class Lines {
  private queue: string[] = [];
  private waiting: ((l: string | null) => void) | null = null;
  private ended = false;
  private readonly rl;
  constructor(input: NodeJS.ReadableStream) {
    const rl = (this.rl = createInterface({ input, terminal: false, crlfDelay: Infinity }));
    rl.on('line', (l) => this.push(l));
    rl.on('close', () => {
      this.ended = true;
      this.waiting?.(null);
      this.waiting = null;
    });
  }
  private push(l: string) {
    if (this.waiting) {
      const w = this.waiting;
      this.waiting = null;
      w(l);
    } else this.queue.push(l);
  }
  close(): void {
    this.rl.close();
  }
  /** The next line (one caller at a time). */
  next(): Promise<string | null> {
    if (this.queue.length) return Promise.resolve(this.queue.shift()!);
    if (this.ended) return Promise.resolve(null);
    return new Promise<string | null>((r) => (this.waiting = r));
  }
}

const sleep = (ms: number) => new Promise<'tick'>((r) => setTimeout(() => r('tick'), ms));

/**
 * The approver's prompt: shows pending requests one by one (who, target, command, rule, time left)
 * and takes y/a approve, n/d deny (then an optional reason), s skip, q quit. Polls for new requests.
 */
export async function runApprovalPrompt(
  backend: ApprovalsBackend,
  io: { stdin: NodeJS.ReadableStream; stdout: NodeJS.WritableStream },
  opts: { pollMs?: number } = {},
): Promise<number> {
  const lines = new Lines(io.stdin);
  try {
    return await promptLoop(backend, io, lines, opts.pollMs ?? 500);
  } finally {
    lines.close(); // release stdin so the process can exit
  }
}

async function promptLoop(
  backend: ApprovalsBackend,
  io: { stdin: NodeJS.ReadableStream; stdout: NodeJS.WritableStream },
  lines: Lines,
  pollMs: number,
): Promise<number> {
  const out = (s: string) => io.stdout.write(s);
  // A read started while idle may outlive a poll tick: keep it, so no typed line is lost.
  let pendingLine: Promise<string | null> | null = null;
  const nextLine = () => {
    const p = pendingLine ?? lines.next();
    pendingLine = null;
    return p;
  };
  const skipped = new Set<string>();
  out(`shellgate approvals — ${backend.where}${backend.approver ? `, deciding as ${backend.approver}` : ''}\n`);
  out('y (approve) · n (deny) · s (skip) · q (quit): the words work too\n');
  let idle = false;
  for (;;) {
    // Skip what we skipped or already approved (a rule needing more approvers stays pending).
    const me = backend.approver;
    const next = (await backend.list()).find((r) => !skipped.has(r.id) && !(me && r.approvedBy?.includes(me)));
    if (!next) {
      if (!idle) out('waiting for approval requests… (q to quit)\n');
      idle = true;
      pendingLine ??= lines.next();
      const got = await Promise.race([pendingLine, sleep(pollMs)]);
      if (got === 'tick') continue;
      pendingLine = null;
      if (got === null || ANSWERS[got.trim().toLowerCase()] === 'q') return 0;
      continue;
    }
    idle = false;
    out(`\n${describeRequest(next)}\n`);
    for (;;) {
      out(`approve #${next.id}? [y]es / [n]o / [s]kip / [q]uit: `);
      const answer = await nextLine();
      if (answer === null) return 0;
      const a = ANSWERS[answer.trim().toLowerCase()];
      if (a === 'q') return 0;
      if (a === 's') {
        skipped.add(next.id);
        out(`skipped #${next.id}\n`);
        break;
      }
      if (a === 'y' || a === 'n') {
        const decision = a === 'y' ? 'approve' : 'deny';
        let reason: string | undefined;
        if (decision === 'deny') {
          out('reason (optional): ');
          const r = await nextLine();
          if (r === null) return 0;
          reason = r.trim() || undefined;
        }
        try {
          const r = await backend.decide(next.id, decision, reason);
          out(resultLine(next.id, decision, r.status, next.approvers, r.applied) + '\n');
        } catch (err) {
          out(`#${next.id}: ${(err as Error).message}\n`);
          skipped.add(next.id); // refused for us (own request, wrong group, …): don't ask again
        }
        break;
      }
      out('please answer approve (y), deny (n), skip (s) or quit (q)\n');
    }
  }
}

/** The prompt's answers (cli.md: "takes approve / deny / skip"): the words, or their letters. */
const ANSWERS: Record<string, 'y' | 'n' | 's' | 'q'> = Object.assign(Object.create(null) as Record<string, 'y' | 'n' | 's' | 'q'>, {
  y: 'y',
  yes: 'y',
  a: 'y',
  approve: 'y',
  n: 'n',
  no: 'n',
  d: 'n',
  deny: 'n',
  s: 's',
  skip: 's',
  q: 'q',
  quit: 'q',
});

export function resultLine(id: string, decision: 'approve' | 'deny', status: string, needed: number, applied = true): string {
  if (!applied) {
    return `#${id}: ${decision === 'approve' ? 'approval' : 'denial'} recorded, but no running gateway has picked it up yet (is it running with this store?)`;
  }
  if (status === 'approved') return `#${id} approved`;
  if (status === 'denied') return `#${id} denied`;
  return decision === 'approve'
    ? `#${id}: approval recorded${needed > 1 ? `; needs ${needed} distinct approvers` : ''}`
    : `#${id}: denial recorded`;
}
