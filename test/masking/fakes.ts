/** Fake secrets of the right shapes, built at run time from parts and random bytes (no literal secret in the repo). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { corpusDir } from '../helpers/paths.js';
import { rand } from '../helpers/tmp.js';

export { rand };

const UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
const DIGITS = '0123456789';
const ALNUM = UPPER + UPPER.toLowerCase() + DIGITS;

export function luhnCheckDigit(body: string): string {
  let sum = 0;
  let dbl = true;
  for (let i = body.length - 1; i >= 0; i--) {
    let d = body.charCodeAt(i) - 48;
    if (dbl) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    dbl = !dbl;
  }
  return String((10 - (sum % 10)) % 10);
}

const b64url = (s: string) => Buffer.from(s).toString('base64url');

export const fake = {
  awsKeyId: () => 'AK' + 'IA' + rand(16, UPPER + '234567'),
  awsSecret: () => rand(40, ALNUM + '+/'),
  github: () => 'gh' + 'p_' + rand(36),
  githubPat: () => 'github' + '_pat_' + rand(22) + '_' + rand(59),
  gitlab: () => 'gl' + 'pat-' + rand(20),
  slack: () => 'xo' + 'xb-' + rand(12, DIGITS) + '-' + rand(13, DIGITS) + '-' + rand(24),
  /** A Slack incoming-webhook URL without its scheme, in parts: `secret` is the path segment masked. */
  slackWebhook: () => {
    const prefix = 'hooks.' + 'slack.com/' + 'services/T' + rand(9 + Math.floor(Math.random() * 3)) + '/B' + rand(9 + Math.floor(Math.random() * 3)) + '/';
    const secret = rand(24);
    return { url: prefix + secret, prefix, secret };
  },
  stripe: () => 'sk' + '_li' + 've_' + rand(24),
  google: () => 'AI' + 'za' + rand(35, ALNUM + '_-'),
  jwt: () =>
    b64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' })) + '.' + b64url(JSON.stringify({ sub: rand(8), iat: 1700000000 })) + '.' + rand(43, ALNUM + '_-'),
  password: () => rand(6) + '-' + rand(10),
  /** 16 digits starting with 4, valid Luhn. */
  card: () => {
    const body = '4' + rand(14, DIGITS);
    return body + luhnCheckDigit(body);
  },
  /** 16 digits failing Luhn. */
  badCard: () => {
    const body = '4' + rand(14, DIGITS);
    return body + String((Number(luhnCheckDigit(body)) + 1) % 10);
  },
  ssn: () => `${100 + Math.floor(Math.random() * 500)}-${10 + Math.floor(Math.random() * 89)}-${1000 + Math.floor(Math.random() * 8999)}`,
  hex: (n: number) => rand(n, '0123456789abcdef'),
};

export interface MaskCase {
  input: string;
  secrets: string[];
  keep: string[];
  detector: string;
  why: string;
}

/** The public corpus, read from the shared folder (never copied into the repo). */
export function loadCorpus(): MaskCase[] {
  const text = gunzipSync(readFileSync(path.join(corpusDir, 'masking-cases.public.jsonl.gz'))).toString('utf8');
  return text
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as MaskCase);
}

/** Every start index of `needle` in `hay`, by code point. */
function positions(hay: string[], needle: string[]): number[] {
  const out: number[] = [];
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let k = 0; k < needle.length; k++) if (hay[i + k] !== needle[k]) continue outer;
    out.push(i);
  }
  return out;
}

/**
 * Grade one case as the corpus README says; returns the problems (empty when
 * it passes): every character of every secret is `*` (line breaks kept),
 * every keep substring survives at its place, same number of characters,
 * detector none → unchanged.
 */
export function grade(c: MaskCase, output: string): string[] {
  const problems: string[] = [];
  const inp = Array.from(c.input);
  const out = Array.from(output);
  if (inp.length !== out.length) problems.push(`length ${out.length} != ${inp.length}`);
  for (const s of c.secrets) {
    const sec = Array.from(s);
    const at = positions(inp, sec);
    if (at.length === 0) problems.push('secret not in input');
    for (const p of at) {
      for (let k = 0; k < sec.length; k++) {
        const want = sec[k] === '\n' || sec[k] === '\r' ? sec[k] : '*';
        if (out[p + k] !== want) {
          problems.push(`secret char ${k} of a ${c.detector} secret not masked`);
          break;
        }
      }
    }
  }
  for (const kp of c.keep) {
    const kk = Array.from(kp);
    for (const p of positions(inp, kk)) {
      if (out.slice(p, p + kk.length).join('') !== kp) problems.push(`keep ${JSON.stringify(kp)} changed`);
    }
  }
  if (c.detector === 'none' && output !== c.input) problems.push('false positive: output changed');
  return problems;
}
