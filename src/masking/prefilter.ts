/**
 * The prefilter: literal anchors per detector, a hit only means "scan this
 * line". Every match of a detector has its anchor on its line at or before
 * the match end, so a line without a hit cannot hold a secret. Grouped into a
 * few regexes by kind: V8 runs a few short alternations much faster than one
 * long case-insensitive one.
 *
 * Gate: the word and token anchors (`pass`, `token`, `gh[pousr]_`…) are
 * letters that base64 is full of places to start (the word regex ran at about
 * 250 MB/s there), yet every match of their detector holds one of a few
 * punctuation or blank characters, its gate (below: `password=x`, `Bearer x`,
 * `ghp_…`, `a.b.c` for a JWT). So those anchors count only on lines with a
 * gate character of some enabled detector, found at GB/s. Exact: a line this
 * drops has no such character, so no word or token detector matches on it,
 * and every other match holds an anchor that still counts (digits, a vaulted
 * value, AKIA/AIza). Letting through lines that hold no secret is harmless
 * (the detectors find nothing there): the gate may pass more than it must.
 */

type Anchor =
  /** `gate`: characters one of which every match of the detector holds (on its line, so in the same segment). */
  | { group: 'token' | 'word'; re: string; gate: string }
  /** Anchors that need no gate: `key` ones are cheap to look for next to the gate characters. */
  | { group: 'key' | 'digit'; re: string };

/**
 * No token anchor starts with a common letter (`k_live_` for `sk_live_`,
 * `yJ(?<=eyJ)`): V8 tries the alternation at every position holding a
 * possible first character, and s, r and e made the token regex run at half
 * the speed on logs and prose.
 */
const ANCHORS: Record<string, Anchor> = {
  'private-key': { group: 'token', re: '-----BEGIN', gate: '-' }, // the anchor holds its gate, as below for _ - :
  'aws-access-key-id': { group: 'key', re: 'A[KS]IA' }, // joined as A(?:[KS]IA|Iza) below
  'aws-secret-access-key': { group: 'word', re: 'secret', gate: ':=' }, // …key["']? [:=]
  'github-token': { group: 'token', re: 'gh[pousr]_|github_pat_', gate: '_' },
  'gitlab-token': { group: 'token', re: 'glpat-', gate: '-' },
  // webhook URLs `hooks.slack.com/services/…`, with or without a scheme: anchored by the end of the
  // host name and the path (starting with k like the stripe anchor, not the common s of `slack`); gate: its dots
  'slack-token': { group: 'token', re: 'xox[bpars]-|k\\.com/services/', gate: '-.' },
  'stripe-key': { group: 'token', re: 'k_(?:live|test)_', gate: '_' }, // of [sr]k_…, see above
  'google-api-key': { group: 'key', re: 'AIza' },
  jwt: { group: 'token', re: 'yJ(?<=eyJ)', gate: '.' }, // three dotted segments
  'url-credentials': { group: 'token', re: '://', gate: ':' },
  // `Authorization: …` / `authorization=…`, or `Bearer x` (a blank after bearer)
  'bearer-token': { group: 'word', re: 'authorization|bearer', gate: ':= \t' },
  // key= / key: , or a blank between key and value (`--password x`, `PASSWORD 'x'`)
  'password-assignment': { group: 'word', re: 'pass|pwd|secret|token|api[_-]?key|private[_-]?key|credential', gate: ':= \t' },
  'credit-card': { group: 'digit', re: '[0-9]{3}(?:[0-9][ -]?[0-9]{4})' },
  'us-ssn': { group: 'digit', re: '[0-9]{3}(?:-[0-9]{2}-[0-9]{4})' },
};

export interface Prefilter {
  /** Anchors that count wherever they are: card and SSN digits, vaulted values. */
  readonly open: readonly RegExp[];
  /** Token (with key) and word anchors: they count only where `gate` lets them. */
  readonly gated: readonly RegExp[];
  /** A gate character, or a key anchor (which needs none); null when `gated` is empty. */
  readonly gate: RegExp | null;
  /** The gate characters alone ('' when none). */
  readonly gateChars: string;
  /** `gate` without its characters: the key anchors alone; null when there are none. */
  readonly keyGate: RegExp | null;
}

/**
 * After a gate hit the gated anchors also run over the next `span` bytes (to
 * a line end) before the gate is looked for again. The span doubles while the
 * stretches without a gate hit are short (logs, a gate character on every
 * line: one gate call per MAX_SPAN bytes) and drops to 0 after a long one
 * (base64 with a log line here and there: only those lines go through the
 * gated anchors). So each gate call either covers a span grown geometrically
 * or has skipped at least LONG_GAP bytes.
 */
const MAX_SPAN = 8192;
const LONG_GAP = 512;

/**
 * Alternation with shared prefixes factored out (`A[KS]IA|AIza` → `A(?:[KS]IA|Iza)`,
 * `[0-9]{3}(?:…)|[0-9]{3}(?:…)` → `[0-9]{3}(?:…|…)`): V8 scans far faster when
 * fewer alternatives start at each position.
 */
function joinAnchors(alts: readonly string[]): string {
  const a = alts.includes('A[KS]IA') && alts.includes('AIza') ? [...alts.filter((x) => x !== 'A[KS]IA' && x !== 'AIza'), 'A(?:[KS]IA|Iza)'] : alts;
  const digit = a.filter((x) => x.startsWith('[0-9]{3}(?:'));
  if (digit.length < 2) return a.join('|');
  const rest = a.filter((x) => !digit.includes(x));
  return [...rest, `[0-9]{3}(?:${digit.map((x) => x.slice('[0-9]{3}(?:'.length, -1)).join('|')})`].join('|');
}

/** `[0-9]{4}` → `[0-9][0-9][0-9][0-9]`: V8 then skips ahead Boyer-Moore style (the digit anchors ran 1.7x faster). */
function unroll(src: string): string {
  return src.replace(/\[0-9\]\{(\d+)\}/g, (_, k: string) => '[0-9]'.repeat(Number(k)));
}

/** The prefilter for these enabled detector ids and the vaulted values not in the needle index (as regex sources). */
export function buildPrefilter(enabled: readonly string[], vaulted: readonly string[]): Prefilter {
  const alts: Record<Anchor['group'], string[]> = { token: [], word: [], key: [], digit: [] };
  let gates = '';
  for (const id of enabled) {
    const a = ANCHORS[id];
    if (!a) continue;
    for (const x of a.group === 'word' ? a.re.split('|') : [a.re]) if (!alts[a.group].includes(x)) alts[a.group].push(x);
    if ('gate' in a) for (const c of a.gate) if (!gates.includes(c)) gates += c;
  }
  const open = [unroll(joinAnchors(alts.digit)), vaulted.join('|')].filter(Boolean).map((x) => new RegExp(x, 'g'));
  const gated: RegExp[] = [];
  if (alts.token.length + alts.key.length > 0) gated.push(new RegExp(joinAnchors([...alts.token, ...alts.key]), 'g'));
  if (alts.word.length > 0) gated.push(new RegExp(joinAnchors(alts.word), 'gi'));
  const key = alts.key.length > 0 ? joinAnchors(alts.key) : '';
  const gate = [gates ? `[${gates.replace(/[-\]\\^]/g, '\\$&')}]` : '', key].filter(Boolean).join('|');
  return { open, gated, gate: gate ? new RegExp(gate, 'g') : null, gateChars: gates, keyGate: key ? new RegExp(key, 'g') : null };
}

/**
 * Whether t[0, end) holds one of `chars`. One indexOf per character: V8 looks for a single
 * character far faster than it runs a character class (base64, which holds none of the gate
 * characters: 0.1 ms per MB for all of them, against 0.8 ms for the class).
 */
function holdsAny(t: string, chars: string, end: number): boolean {
  for (let k = 0; k < chars.length; k++) {
    const i = t.indexOf(chars[k]!);
    if (i >= 0 && i < end) return true; // the first occurrence: none before `end` if it is past it
  }
  return false;
}

function hit(re: RegExp, t: string): boolean {
  re.lastIndex = 0;
  return re.test(t);
}

/**
 * True when some anchor in the segment text counts (a key anchor that opens
 * the gate is in the token regex too). For a partial line this also decides
 * whether the detectors run: skipping those behind a gated anchor changes no
 * hold either, since they hold a tail only after their separator.
 */
export function segmentHit(p: Prefilter, t: string): boolean {
  return p.open.some((re) => hit(re, t)) || (p.gate !== null && hit(p.gate, t) && p.gated.some((re) => hit(re, t)));
}

/** Push the start of each line of t[from, to) (whole lines) holding a hit of `re`. */
function hitLines(re: RegExp, t: string, from: number, to: number, lines: number[]): void {
  const s = from === 0 && to === t.length ? t : t.slice(from, to);
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(s)) !== null) {
    lines.push(from + (m.index === 0 ? 0 : s.lastIndexOf('\n', m.index - 1) + 1));
    const nl = s.indexOf('\n', m.index);
    if (nl < 0) break;
    re.lastIndex = nl + 1; // one hit per line is enough
  }
}

/**
 * Starts of the lines of t[0, end) (complete lines) with an anchor hit that
 * counts, in no particular order, possibly repeated, possibly with some lines
 * that do not hold a secret after all.
 */
export function anchoredLines(p: Prefilter, t: string, end: number): number[] {
  const lines: number[] = [];
  for (const re of p.open) hitLines(re, t, 0, end, lines);
  // Without a gate character in the text, only the key anchors can open the gate: the same hits,
  // found without the character class.
  const gate = p.gateChars !== '' && !holdsAny(t, p.gateChars, end) ? p.keyGate : p.gate;
  if (gate === null) return lines;
  // runs of lines [from, to) the gated anchors go over: every line with a gate hit is in one
  const runs: number[] = [];
  let pos = 0; // a line start
  let span = 0;
  while (pos < end) {
    gate.lastIndex = pos;
    const m = gate.exec(t);
    if (m === null || m.index >= end) break;
    const from = t.lastIndexOf('\n', m.index) + 1; // >= pos: the lines in [pos, from) have no gate hit
    span = from - pos >= LONG_GAP ? 0 : Math.min(Math.max(2 * span, 128), MAX_SPAN);
    const nl = t.indexOf('\n', Math.max(m.index, from + span));
    pos = nl < 0 ? end : nl + 1; // complete lines: a newline at or after `end` does not exist
    if (runs.length > 0 && runs[runs.length - 1] === from) runs[runs.length - 1] = pos;
    else runs.push(from, pos);
  }
  for (let k = 0; k < runs.length; k += 2) for (const re of p.gated) hitLines(re, t, runs[k]!, runs[k + 1]!, lines);
  return lines;
}
