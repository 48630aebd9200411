import { quote } from 'shell-quote';
import { matchPattern, prepare, type CompiledPattern } from './compile-pattern.js';
import { CACHE_MAX_LINE, cacheKey, decisionCache } from './decision-cache.js';
import { Policy, type CompiledRule } from './load-policy.js';
import type { CommandDecision, CompiledPolicy, DecideContext, Decision, LineDecision } from './types.js';
import { analyseLine, type Part } from './unwrap.js';

const RANK: Record<Decision, number> = { allow: 0, approve: 1, deny: 2 };

/**
 * Decides one command line for one identity and target. Never throws: anything unexpected is a deny.
 * Results are cached (bounded LRU) and frozen: callers must not mutate them.
 */
export function decideLine(policy: CompiledPolicy, line: string, ctx: DecideContext): LineDecision {
  try {
    if (!(policy instanceof Policy)) throw new TypeError('decideLine needs a policy from loadPolicyFile()');
    const cacheable = line.length <= CACHE_MAX_LINE;
    const key = cacheable ? cacheKey(policy.version, line, ctx.subject, ctx.groups, ctx.target) : '';
    if (cacheable) {
      const hit = decisionCache.get(key);
      if (hit) return hit;
    }
    const result = deepFreeze(oneLineReasons(decideUncached(policy, line, ctx)));
    if (cacheable) decisionCache.set(key, result);
    return result;
  } catch (err) {
    // Fail closed: a bug or a misused API denies the line instead of throwing into the gateway.
    return { decision: 'deny', rule: null, reason: `internal error while deciding: ${(err as Error)?.message ?? String(err)}`, commands: [] };
  }
}

/** The decision without the cache (used by the benchmark and tests). */
export function decideUncached(policy: Policy, line: string, ctx: DecideContext): LineDecision {
  if (line.length > policy.maxLineBytes / 3 && Buffer.byteLength(line, 'utf8') > policy.maxLineBytes) {
    return { decision: 'deny', rule: null, reason: `the line is longer than maxLineBytes (${policy.maxLineBytes} bytes)`, commands: [] };
  }
  const analysed = analyseLine(line);
  if (analysed.invalid) return { decision: 'deny', rule: null, reason: analysed.invalid, commands: [] };
  if (analysed.parts.length === 0) return { decision: 'allow', rule: null, reason: 'the line runs no command', commands: [] };
  const rules = new Set(policy.ordered.filter((r) => applies(r, ctx)));
  const commands = analysed.parts.map((p) => decidePart(policy, rules, p));
  let best = commands[0]!;
  for (const c of commands) if (RANK[c.decision] > RANK[best.decision]) best = c;
  // The first part (in line order) that has the line's decision names the rule.
  const first = commands.find((c) => c.decision === best.decision)!;
  return { decision: first.decision, rule: first.rule, reason: first.reason, commands };
}

function applies(r: CompiledRule, ctx: DecideContext): boolean {
  if (r.targets && !r.targets.some((re) => re.test(ctx.target))) return false;
  if (r.subjects) {
    return r.subjects.some((s) => (s.kind === 'sub' ? s.re.test(ctx.subject) : ctx.groups.some((g) => s.re.test(g))));
  }
  return true;
}

function argvOf(part: Part): { argv: string[]; unknown?: boolean[] } {
  const argv = part.words.map((w) => w.text);
  if (!part.words.some((w) => w.unknown)) return { argv };
  return { argv, unknown: part.words.map((w) => w.unknown) };
}

function show(argv: string[]): string {
  // Only the start is shown: quoting all of a 16 KiB argv would cost more than deciding it.
  const s = argv.length ? quote(argv.slice(0, 12)) + (argv.length > 12 ? ' …' : '') : '';
  return s.length > 120 ? s.slice(0, 119) + '…' : s;
}

interface Candidate {
  readonly seq: number;
  readonly rule: CompiledRule;
  readonly pattern: CompiledPattern;
}

/** Patterns indexed by literal program name, in the order they are tried (deny → approve → allow). */
interface PatternIndex {
  readonly byName: Map<string, Candidate[]>;
  /** Globbed, path and redirection patterns: tried for every program. */
  readonly others: Candidate[];
  readonly merged: Map<string, readonly Candidate[]>;
}

const indexes = new WeakMap<Policy, PatternIndex>();

function indexOf(policy: Policy): PatternIndex {
  let ix = indexes.get(policy);
  if (ix) return ix;
  const byName = new Map<string, Candidate[]>();
  const others: Candidate[] = [];
  let seq = 0;
  for (const rule of policy.ordered) {
    for (const pattern of rule.patterns) {
      const c: Candidate = { seq: seq++, rule, pattern };
      const prog = pattern.program;
      if (!prog.redirect && !prog.slash && !prog.m.re) {
        const list = byName.get(prog.m.text) ?? [];
        list.push(c);
        byName.set(prog.m.text, list);
      } else others.push(c);
    }
  }
  ix = { byName, others, merged: new Map() };
  indexes.set(policy, ix);
  return ix;
}

function candidates(policy: Policy, name: string): readonly Candidate[] {
  const ix = indexOf(policy);
  const hit = ix.merged.get(name);
  if (hit) return hit;
  const own = ix.byName.get(name);
  const list = own ? [...own, ...ix.others].sort((a, b) => a.seq - b.seq) : ix.others;
  if (ix.merged.size < 4096) ix.merged.set(name, list);
  return list;
}

function decidePart(policy: Policy, rules: ReadonlySet<CompiledRule>, part: Part): CommandDecision {
  const { argv, unknown } = argvOf(part);
  const base = unknown ? { argv, unknown } : { argv };
  if (part.deny) return { ...base, decision: 'deny', rule: null, reason: part.deny };
  if (part.unanalyzable) {
    return { ...base, decision: policy.unanalyzable, rule: null, reason: `${part.unanalyzable} cannot be analysed statically (unanalyzable: ${policy.unanalyzable})` };
  }
  const cmd = prepare(part);
  for (const { rule: r, pattern: p } of candidates(policy, cmd.name)) {
    if (!rules.has(r)) continue;
    if (matchPattern(p, cmd, r.decision !== 'allow', r.decision === 'deny')) {
      return { ...base, decision: r.decision, rule: r.id, reason: `${p.source} matches ${r.id}` };
    }
  }
  if (part.inside) {
    return { ...base, decision: policy.unanalyzable, rule: null, reason: `${show(argv)} inside ${part.inside} matches no rule (unanalyzable: ${policy.unanalyzable})` };
  }
  return { ...base, decision: policy.default, rule: null, reason: `${show(argv)} matches no rule (default ${policy.default})` };
}

/** Reasons are one line: control characters (from argv or patterns) are shown escaped. */
function oneLine(s: string): string {
  return /[\x00-\x1f\x7f]/.test(s) ? s.replace(/[\x00-\x1f\x7f]/g, (c) => (c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)) : s;
}

function oneLineReasons(d: LineDecision): LineDecision {
  d.reason = oneLine(d.reason);
  for (const c of d.commands) c.reason = oneLine(c.reason);
  return d;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
