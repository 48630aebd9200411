import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode, type Pair } from 'yaml';
import { PolicyError } from '../errors.js';
import { DETECTOR_IDS } from '../masking/detector-ids.js';
import { compilePattern, type CompiledPattern } from './compile-pattern.js';
import { globToRegExp } from './glob.js';
import { bashParser } from './grammar.js';
import type { CompiledPolicy, Decision, RuleInfo } from './types.js';

/** A compiled rule (internal to the engine). */
export interface CompiledRule extends RuleInfo {
  readonly patterns: readonly CompiledPattern[];
  /** null = everyone. */
  readonly subjects: readonly { kind: 'group' | 'sub'; re: RegExp }[] | null;
  readonly targets: readonly RegExp[] | null;
}

export class Policy implements CompiledPolicy {
  /** Rules in the order they are tried: every deny rule, then approve, then allow (file order within each). */
  readonly ordered: readonly CompiledRule[];
  private readonly byId: ReadonlyMap<string, CompiledRule>;
  constructor(
    readonly name: string,
    readonly file: string,
    readonly version: string,
    readonly default_: 'deny' | 'approve',
    readonly unanalyzable: 'deny' | 'approve',
    readonly shell: 'guarded' | 'passthrough' | 'deny',
    readonly maxLineBytes: number,
    readonly masking: { readonly add: readonly string[]; readonly disable: readonly string[] },
    rules: readonly CompiledRule[],
  ) {
    const rank: Record<Decision, number> = { deny: 0, approve: 1, allow: 2 };
    this.ordered = [...rules].sort((a, b) => rank[a.decision] - rank[b.decision]);
    this.byId = new Map(rules.map((r) => [r.id, r]));
    Object.freeze(this);
  }
  get default(): 'deny' | 'approve' {
    return this.default_;
  }
  rule(id: string): RuleInfo | undefined {
    const r = this.byId.get(id);
    return r && { id: r.id, decision: r.decision, approvers: r.approvers, approverGroups: r.approverGroups, interactive: r.interactive };
  }
}

const TOP_KEYS = new Set(['version', 'default', 'unanalyzable', 'rules', 'masking', 'shell', 'maxLineBytes']);
const RULE_KEYS = new Set(['id', 'decision', 'match', 'subjects', 'targets', 'approvers', 'approverGroups', 'interactive']);
const MASKING_KEYS = new Set(['add', 'disable']);
/** The largest maxLineBytes accepted: the parser must stay fast on the longest line. */
const MAX_LINE_BYTES_LIMIT = 1024 * 1024;

/** Loads and compiles one policy file. Throws PolicyError naming the file, line, rule and problem. */
export function loadPolicyFile(file: string): CompiledPolicy {
  bashParser(); // fail early (TypeError) if the engine was not initialised
  const abs = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    throw new PolicyError(`${abs}: cannot read the policy file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const name = path.basename(abs).replace(/\.ya?ml$/i, '');
  return compilePolicyText(text, abs, name);
}

/** Compiles policy YAML text; `file` is used in messages. */
export function compilePolicyText(text: string, file: string, name: string): Policy {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: true, prettyErrors: false });
  const fail = (node: YamlNode | Pair | null | undefined, problem: string, rule?: string): never => {
    const off = rangeStart(node);
    const where = off === null ? '' : `:${lc.linePos(off).line}`;
    throw new PolicyError(`${file}${where}: ${rule ? `rule ${rule}: ` : ''}${problem}`);
  };
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line ?? lc.linePos(e.pos[0]).line;
    throw new PolicyError(`${file}:${line}: invalid YAML: ${e.message.split('\n')[0]}`);
  }
  const root = doc.contents;
  if (!isMap(root)) return fail(root, 'the policy must be a mapping (version, default, rules, …)');

  const top = new Map<string, Pair>();
  for (const pair of root.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : null;
    if (key === null || !TOP_KEYS.has(key)) fail(pair.key as YamlNode, `unknown key ${JSON.stringify(key ?? '?')}`);
    top.set(key!, pair);
  }
  const scalar = (key: string): unknown => {
    const p = top.get(key);
    if (!p) return undefined;
    if (!isScalar(p.value)) fail((p.value as YamlNode) ?? p.key, `${key} must be a single value`);
    return (p.value as { value: unknown }).value;
  };
  const nodeOf = (key: string): YamlNode | undefined => (top.get(key)?.value as YamlNode) ?? (top.get(key)?.key as YamlNode);

  const version = scalar('version');
  if (version === undefined) fail(root, 'version: missing (must be 1)');
  if (version !== 1) fail(nodeOf('version'), `version: must be 1, not ${JSON.stringify(version)}`);
  const oneOf = <T extends string>(key: string, allowed: readonly T[], dflt: T): T => {
    const v = scalar(key);
    if (v === undefined) return dflt;
    if (typeof v !== 'string' || !allowed.includes(v as T)) fail(nodeOf(key), `${key}: must be ${allowed.join(' or ')}, not ${JSON.stringify(v)}`);
    return v as T;
  };
  const dflt = oneOf('default', ['deny', 'approve'] as const, 'deny');
  const unan = oneOf('unanalyzable', ['deny', 'approve'] as const, 'deny');
  const shell = oneOf('shell', ['guarded', 'passthrough', 'deny'] as const, 'guarded');
  let maxLineBytes = 16384;
  const mlb = scalar('maxLineBytes');
  if (mlb !== undefined) {
    if (typeof mlb !== 'number' || !Number.isInteger(mlb) || mlb < 1 || mlb > MAX_LINE_BYTES_LIMIT) {
      fail(nodeOf('maxLineBytes'), `maxLineBytes: must be an integer from 1 to ${MAX_LINE_BYTES_LIMIT}`);
    }
    maxLineBytes = mlb as number;
  }

  // masking
  const masking = { add: [] as string[], disable: [] as string[] };
  const mp = top.get('masking');
  if (mp && mp.value !== null) {
    const m = mp.value as YamlNode;
    if (!isMap(m)) fail(m, 'masking: must be a mapping with add and/or disable');
    for (const pair of (m as unknown as { items: Pair[] }).items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '?';
      if (!MASKING_KEYS.has(key)) fail(pair.key as YamlNode, `masking: unknown key ${JSON.stringify(key)}`);
      const list = stringList(pair.value as YamlNode, `masking.${key}`, fail);
      for (const [s, node] of list) {
        if (key === 'add') {
          try {
            const ci = s.startsWith('(?i)');
            new RegExp(ci ? s.slice(4) : s, ci ? 'i' : '');
          } catch (err) {
            fail(node, `masking.add: invalid regular expression ${JSON.stringify(s)}: ${(err as Error).message}`);
          }
          masking.add.push(s);
        } else {
          if (s === 'vaulted-secret') fail(node, 'masking.disable: vaulted-secret cannot be disabled');
          // Checked here, not only when the gateway compiles its masker: `policy check` and the
          // gateway must accept the same files.
          if (!DETECTOR_IDS.includes(s)) fail(node, `masking.disable: unknown detector id ${JSON.stringify(s)} (known: ${DETECTOR_IDS.join(', ')})`);
          masking.disable.push(s);
        }
      }
    }
  }

  // rules
  const rules: CompiledRule[] = [];
  const rp = top.get('rules');
  const ids = new Set<string>();
  if (rp && rp.value !== null) {
    const seq = rp.value as YamlNode;
    if (!isSeq(seq)) fail(seq, 'rules: must be a list');
    for (const item of (seq as unknown as { items: YamlNode[] }).items) {
      rules.push(compileRule(item, ids, fail));
    }
  }
  const version_ = createHash('sha256').update(text).digest('hex');
  return new Policy(name, file, version_, dflt, unan, shell, maxLineBytes, Object.freeze({ add: Object.freeze(masking.add), disable: Object.freeze(masking.disable) }), rules);
}

type Fail = (node: YamlNode | Pair | null | undefined, problem: string, rule?: string) => never;

function rangeStart(node: YamlNode | Pair | null | undefined): number | null {
  if (!node) return null;
  const r = (node as { range?: [number, number, number] }).range;
  if (r) return r[0];
  const k = (node as Pair).key as { range?: [number, number, number] } | undefined;
  return k?.range ? k.range[0] : null;
}

function stringList(node: YamlNode | null | undefined, what: string, fail: Fail, rule?: string): [string, YamlNode][] {
  if (!isSeq(node)) return fail(node, `${what}: must be a list of strings`, rule);
  const out: [string, YamlNode][] = [];
  for (const item of node.items as YamlNode[]) {
    if (!isScalar(item) || typeof item.value !== 'string' || item.value === '') fail(item, `${what}: every entry must be a non-empty string`, rule);
    out.push([(item as { value: string }).value, item]);
  }
  return out;
}

function compileRule(item: YamlNode, ids: Set<string>, fail: Fail): CompiledRule {
  if (!isMap(item)) return fail(item, 'each rule must be a mapping with id, decision and match');
  const fields = new Map<string, Pair>();
  for (const pair of item.items as Pair[]) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '?';
    fields.set(key, pair);
  }
  const idPair = fields.get('id');
  const idVal = idPair && isScalar(idPair.value) ? idPair.value.value : undefined;
  const id = typeof idVal === 'string' || typeof idVal === 'number' ? String(idVal) : undefined;
  const ruleName = id ?? '(without id)';
  for (const [key, pair] of fields) {
    if (!RULE_KEYS.has(key)) fail(pair.key as YamlNode, `unknown key ${JSON.stringify(key)}`, ruleName);
  }
  if (!id || !/^[A-Za-z0-9][A-Za-z0-9._:-]*$/.test(id)) {
    fail(idPair?.value as YamlNode ?? item, 'id: missing or not a plain name (letters, digits, . _ : -)', ruleName);
  }
  if (ids.has(id!)) fail(idPair!.value as YamlNode, `id: duplicate rule id ${JSON.stringify(id)}`, id);
  ids.add(id!);
  const val = (key: string): YamlNode | undefined => fields.get(key)?.value as YamlNode | undefined;
  const dec = val('decision');
  const decision = isScalar(dec) ? dec.value : undefined;
  if (decision !== 'allow' && decision !== 'deny' && decision !== 'approve') {
    fail(dec ?? item, `decision: must be allow, deny or approve, not ${JSON.stringify(decision ?? null)}`, id);
  }
  const matchNode = val('match');
  if (!matchNode) fail(item, 'match: missing (a list of patterns)', id);
  const patterns: CompiledPattern[] = [];
  for (const [src, node] of stringList(matchNode, 'match', fail, id)) {
    try {
      patterns.push(compilePattern(src));
    } catch (err) {
      fail(node, `match: ${(err as Error).message}`, id);
    }
  }
  if (patterns.length === 0) fail(matchNode, 'match: needs at least one pattern', id);

  let subjects: CompiledRule['subjects'] = null;
  if (fields.has('subjects')) {
    subjects = stringList(val('subjects'), 'subjects', fail, id).map(([s, node]) => {
      const m = /^(group|sub):(.+)$/.exec(s);
      if (!m) fail(node, `subjects: ${JSON.stringify(s)} must be group:NAME or sub:NAME`, id);
      return { kind: m![1] as 'group' | 'sub', re: globToRegExp(m![2]!, { slashes: true }) };
    });
  }
  let targets: CompiledRule['targets'] = null;
  if (fields.has('targets')) targets = stringList(val('targets'), 'targets', fail, id).map(([s]) => globToRegExp(s, { slashes: true }));

  let approvers = 1;
  if (fields.has('approvers')) {
    const a = val('approvers');
    const v = isScalar(a) ? a.value : undefined;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 100) fail(a ?? item, 'approvers: must be an integer from 1 to 100', id);
    approvers = v as number;
  }
  const approverGroups = fields.has('approverGroups') ? stringList(val('approverGroups'), 'approverGroups', fail, id).map(([s]) => s) : [];
  let interactive = false;
  if (fields.has('interactive')) {
    const n = val('interactive');
    if (!isScalar(n) || typeof n.value !== 'boolean') fail(n ?? item, 'interactive: must be true or false', id);
    interactive = (n as { value: boolean }).value;
  }
  return Object.freeze({
    id: id!,
    decision: decision as Decision,
    approvers,
    approverGroups: Object.freeze(approverGroups),
    interactive,
    patterns,
    subjects,
    targets,
  });
}

/** Loads every *.yaml / *.yml file of a directory; the name is the file's basename without extension. */
export function loadPolicyDir(dir: string): Map<string, CompiledPolicy> {
  const abs = path.resolve(dir);
  let entries: string[];
  try {
    entries = readdirSync(abs);
  } catch (err) {
    throw new PolicyError(`${abs}: cannot read the policy directory (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const out = new Map<string, CompiledPolicy>();
  for (const f of entries.filter((e) => /\.ya?ml$/i.test(e)).sort()) {
    const p = loadPolicyFile(path.join(abs, f));
    if (out.has(p.name)) throw new PolicyError(`${path.join(abs, f)}: a policy named ${JSON.stringify(p.name)} is already defined by another file`);
    out.set(p.name, p);
  }
  return out;
}
