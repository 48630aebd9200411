import { MaskingConfigError } from './errors.js';
import { ALWAYS_ON, DETECTOR_IDS } from './detector-ids.js';
import { passwordAssignment } from './detect-assignment.js';
import { creditCard, usSsn } from './detect-numbers.js';
import {
  awsAccessKeyId, awsSecretAccessKey, bearerToken, githubToken, gitlabToken, googleApiKey, jwt, slackToken, stripeKey, urlCredentials,
} from './detect-tokens.js';
import { vaultedDetector, vaultedNeedles } from './detect-vaulted.js';
import { MIN_LONG, NeedleIndex } from './needle-index.js';
import type { CompiledDetectors } from './compiled.js';
import type { DetectFn } from './segment.js';
import { MaskEngine, renderPieces, type Finding } from './mask-engine.js';
import { MaskStream } from './mask-stream.js';
import { buildPrefilter } from './prefilter.js';

export interface MaskerOptions {
  /** Built-in detector ids to turn off (never `vaulted-secret`). */
  disable?: readonly string[];
  /** Only these built-in detectors (`vaulted-secret` stays on regardless). */
  only?: readonly string[];
  /** Extra regexes, JavaScript syntax; a leading `(?i)` means case-insensitive. */
  add?: readonly string[];
  /** Plaintext credentials shellgate holds: masked wherever they appear (also base64 / PEM-body forms). */
  vaulted?: readonly string[];
  /** Release a held tail after this many ms without input (default 50). */
  idleMs?: number;
  /** Longest secret looked for, in bytes; bounds the memory a stream holds (default 8192). */
  maxSecretLength?: number;
}

export interface Masker {
  /** One-shot: the same result as streaming the text through createStream(). */
  maskText(text: string): { text: string; findings: Finding[] };
  /** A new streaming Transform sharing the compiled detectors. */
  createStream(): MaskStream;
}

export const DEFAULT_IDLE_MS = 50;
export const DEFAULT_MAX_SECRET_LENGTH = 8192;

const BUILTIN: Record<string, DetectFn | null> = {
  'vaulted-secret': null, // built from the values
  'private-key': null, // a state machine in the engine
  'aws-access-key-id': awsAccessKeyId,
  'aws-secret-access-key': awsSecretAccessKey,
  'github-token': githubToken,
  'gitlab-token': gitlabToken,
  'slack-token': slackToken,
  'stripe-key': stripeKey,
  'google-api-key': googleApiKey,
  jwt,
  'url-credentials': urlCredentials,
  'bearer-token': bearerToken,
  'password-assignment': passwordAssignment,
  'credit-card': creditCard,
  'us-ssn': usSsn,
};

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&');
}

function checkIds(option: string, ids: unknown): string[] {
  if (ids === undefined) return [];
  if (!Array.isArray(ids)) throw new TypeError(`masking: ${option} must be a list of detector ids`);
  for (const id of ids) {
    if (typeof id !== 'string' || !DETECTOR_IDS.includes(id)) {
      throw new MaskingConfigError(`masking: ${option}: unknown detector id '${String(id)}' (known: ${DETECTOR_IDS.join(', ')})`);
    }
  }
  return ids as string[];
}

/**
 * The masker scans UTF-8 bytes as one char per byte: a non-ASCII character in
 * a policy regex becomes its UTF-8 byte sequence (outside character classes
 * this matches exactly what was meant).
 */
function toByteSource(src: string): string {
  let out = '';
  for (const ch of src) {
    if (ch.charCodeAt(0) < 0x80) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += '\\x' + b.toString(16).padStart(2, '0');
  }
  return out;
}

/** Could this regex source match a space or tab? (Then a partial line is held whole.) */
function mayMatchSpace(src: string): boolean {
  return / |\\s|\\W|\\D|\\S|\\x|\\u|\\t|\\p|\\P|\[\^|(?<!\\)\.|\\c/.test(src);
}

function compileCustom(add: unknown): CompiledDetectors['custom'] {
  if (add === undefined) return [];
  if (!Array.isArray(add)) throw new TypeError('masking: add must be a list of regular expressions');
  return add.map((src, i) => {
    const id = `custom:${i + 1}`;
    if (typeof src !== 'string' || src.length === 0) throw new MaskingConfigError(`masking: add[${i}]: must be a non-empty string`);
    let body = src;
    let flags = 'g';
    if (body.startsWith('(?i)')) {
      body = body.slice(4);
      flags += 'i';
    }
    let re: RegExp;
    try {
      new RegExp(body, flags); // report errors against the source as written
      re = new RegExp(toByteSource(body), flags);
    } catch (err) {
      throw new MaskingConfigError(`masking: add[${i}]: invalid regular expression /${src}/: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`);
    }
    if (re.test('')) throw new MaskingConfigError(`masking: add[${i}]: /${src}/ matches the empty string`);
    re.lastIndex = 0;
    return { id, re, mayMatchSpace: mayMatchSpace(body) };
  });
}

/** Validate the options once and build the detectors every stream shares. */
export function compileDetectors(opts: MaskerOptions = {}): CompiledDetectors {
  if (opts === null || typeof opts !== 'object') throw new TypeError('masking: options must be an object');
  const disable = checkIds('disable', opts.disable);
  if (disable.includes(ALWAYS_ON)) throw new MaskingConfigError(`masking: disable: '${ALWAYS_ON}' cannot be turned off`);
  const only = opts.only === undefined ? null : checkIds('only', opts.only);
  const custom = compileCustom(opts.add);
  if (opts.vaulted !== undefined && (!Array.isArray(opts.vaulted) || opts.vaulted.some((v) => typeof v !== 'string'))) {
    throw new TypeError('masking: vaulted must be a list of strings');
  }
  const idleMs = opts.idleMs ?? DEFAULT_IDLE_MS;
  if (typeof idleMs !== 'number' || !Number.isFinite(idleMs) || idleMs < 0) throw new TypeError('masking: idleMs must be a number >= 0');
  const maxLen = opts.maxSecretLength ?? DEFAULT_MAX_SECRET_LENGTH;
  if (!Number.isInteger(maxLen) || maxLen < 256) throw new TypeError('masking: maxSecretLength must be an integer >= 256');

  const enabled = DETECTOR_IDS.filter((id) => id === ALWAYS_ON || ((only === null || only.includes(id)) && !disable.includes(id)));
  const needles = vaultedNeedles(opts.vaulted ?? []);
  const longNeedles = needles.some((nd) => nd.length >= MIN_LONG) ? new NeedleIndex(needles.filter((nd) => nd.length >= MIN_LONG)) : null;
  const fns: DetectFn[] = [];
  let vaultedFn: DetectFn | null = null;
  for (const id of enabled) {
    if (id === ALWAYS_ON) {
      if (needles.length > 0) fns.push((vaultedFn = vaultedDetector(needles, longNeedles)));
      continue;
    }
    const fn = BUILTIN[id];
    if (fn) fns.push(fn);
  }
  const prefilter = buildPrefilter(enabled, needles.filter((nd) => nd.length < MIN_LONG).map(escapeRe));
  const priority = new Map<string, number>(DETECTOR_IDS.map((id, i) => [id, i]));
  return {
    fns,
    custom,
    vaultedFn,
    prefilter,
    needles,
    longNeedles, // vaulted-secret is always on
    privateKey: enabled.includes('private-key'),
    priority,
    maxLen,
    idleMs,
  };
}

export function compileMasker(opts: MaskerOptions = {}): Masker {
  const d = compileDetectors(opts);
  return {
    maskText(text: string) {
      if (typeof text !== 'string') throw new TypeError('maskText: text must be a string');
      const engine = new MaskEngine(d);
      // ASCII text is its own UTF-8 byte string, and so is its masked form (stars are ASCII): no re-encoding
      const ascii = Buffer.byteLength(text, 'utf8') === text.length;
      const input = ascii ? text : Buffer.from(text, 'utf8').toString('latin1');
      const out = renderPieces([...engine.write(input), ...engine.end()], input);
      return { text: ascii ? out : Buffer.from(out, 'latin1').toString('utf8'), findings: engine.findings.slice() };
    },
    createStream() {
      return new MaskStream(d);
    },
  };
}
