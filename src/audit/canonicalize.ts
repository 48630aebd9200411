/**
 * RFC 8785 JSON Canonicalization Scheme (JCS): the audit body's exact byte form, so that any
 * verifier hashing the stored text and any writer re-serialising the same data agree.
 *
 * - object keys sorted by UTF-16 code units (what Array#sort does by default);
 * - numbers in ECMAScript Number#toString form (-0 → "0"); NaN/±Infinity rejected;
 * - strings escaped as JSON.stringify does (only `"`, `\`, and U+0000..U+001F), and lone
 *   surrogates rejected (I-JSON, RFC 7493, which JCS requires);
 * - no whitespace. `undefined` members are dropped (and become `null` in arrays) as in JSON.
 */
export function canonicalize(value: unknown): string {
  return serialize(value, 0);
}

/** Deeper than this is a cycle (or hostile input): JSON from the gateway is a few levels deep. */
const MAX_DEPTH = 200;

// String#isWellFormed (ES2024, in Node 20) is not in this project's lib typings.
const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

function serialize(value: unknown, depth: number): string {
  switch (typeof value) {
    case 'string':
      if (!isWellFormed(value)) throw new TypeError('canonicalize: string holds a lone UTF-16 surrogate');
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`canonicalize: ${value} is not a finite number`);
      return value === 0 ? '0' : String(value); // also turns -0 into "0"
    case 'boolean':
      return value ? 'true' : 'false';
    case 'object':
      break;
    default:
      throw new TypeError(`canonicalize: a ${typeof value} cannot be represented in JSON`);
  }
  if (value === null) return 'null';
  if (depth >= MAX_DEPTH) throw new TypeError('canonicalize: nested too deeply (circular structure?)');
  const obj = value as { toJSON?: () => unknown };
  if (typeof obj.toJSON === 'function') return serialize(obj.toJSON(), depth + 1);
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const v = value[i];
      if (i > 0) out += ',';
      out += v === undefined || typeof v === 'function' ? 'null' : serialize(v, depth + 1);
    }
    return out + ']';
  }
  const rec = value as Record<string, unknown>;
  const keys = Object.keys(rec).sort();
  let out = '{';
  let first = true;
  for (const key of keys) {
    const v = rec[key];
    if (v === undefined || typeof v === 'function') continue;
    if (!first) out += ',';
    first = false;
    out += serialize(key, depth) + ':' + serialize(v, depth + 1);
  }
  return out + '}';
}

/**
 * Whether `text` is exactly the canonical form of `parsed` (= JSON.parse(text)). Fast path for
 * verification: JSON.stringify already serialises numbers and well-formed strings as JCS does,
 * so text that it reproduces and whose keys are sorted at every level is canonical. Anything
 * else (integer-like keys, escaped surrogates) takes the full canonicalize() comparison.
 */
export function isCanonicalText(text: string, parsed: unknown): boolean {
  if (!text.includes('\\ud') && JSON.stringify(parsed) === text && keysSorted(parsed, 0)) return true;
  try {
    return canonicalize(parsed) === text;
  } catch {
    return false;
  }
}

function keysSorted(v: unknown, depth: number): boolean {
  if (typeof v !== 'object' || v === null) return true;
  if (depth >= MAX_DEPTH) return false;
  if (Array.isArray(v)) {
    for (const x of v) if (!keysSorted(x, depth + 1)) return false;
    return true;
  }
  let prev: string | null = null;
  for (const k in v as Record<string, unknown>) {
    if (prev !== null && !(prev < k)) return false;
    prev = k;
    if (!keysSorted((v as Record<string, unknown>)[k], depth + 1)) return false;
  }
  return true;
}
