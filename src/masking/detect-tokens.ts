import { type DetectFn, type Seg, type Span, isAlnum, leftEdge, rightEdge, WS } from './segment.js';

/** Characters that continue a token of the given shape (for the right-edge check). */
const b64url = (c: number) => isAlnum(c) || c === 0x5f || c === 0x2d; // _ -

/** Whole-match token detector: regex hits checked for word edges on both sides. */
function tokenDetector(id: string, re: RegExp, word: (c: number) => boolean, check?: (m: string) => boolean): DetectFn {
  return (seg: Seg, out: Span[]) => {
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(seg.text)) !== null) {
      const s = m.index;
      const e = s + m[0].length;
      if (leftEdge(seg, s) && rightEdge(seg, e, word) && (!check || check(m[0]))) out.push({ s, e, id });
      else re.lastIndex = s + 1;
    }
    return seg.text.length;
  };
}

/** Detector that masks only capture group `g` (needs the `d` flag). */
function groupDetector(id: string, re: RegExp, g: number, edge?: (seg: Seg, s: number, e: number) => boolean): DetectFn {
  return (seg: Seg, out: Span[]) => {
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(seg.text)) !== null) {
      const ix = m.indices?.[g];
      if (ix && ix[1] > ix[0] && (!edge || edge(seg, m.index, m.index + m[0].length))) out.push({ s: ix[0], e: ix[1], id });
      if (m[0].length === 0) re.lastIndex++;
    }
    return seg.text.length;
  };
}

export const awsAccessKeyId = tokenDetector('aws-access-key-id', /(?:AKIA|ASIA)[A-Z0-9]{16}/g, isAlnum);

export const awsSecretAccessKey = groupDetector(
  'aws-secret-access-key',
  new RegExp(`(?:aws_?secret_?access_?key|secretaccesskey)["']?${WS}*[:=]${WS}*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])`, 'gid'),
  1,
);

export const githubToken = tokenDetector(
  'github-token',
  /gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255}/g,
  (c) => isAlnum(c) || c === 0x5f,
);

// newer GitLab tokens carry dotted parts (glpat-….01.…); a final full stop is not part of it
export const gitlabToken = tokenDetector('gitlab-token', /glpat-[A-Za-z0-9_-]{20,}(?:\.[A-Za-z0-9_-]+)*/g, b64url);

const slackTokens = tokenDetector('slack-token', /xox[bpars]-[A-Za-z0-9-]{10,}/g, (c) => isAlnum(c) || c === 0x2d);
const slackWebhook = groupDetector(
  'slack-token',
  /hooks\.slack\.com\/services\/T[A-Za-z0-9]+\/B[A-Za-z0-9]+\/([A-Za-z0-9]{16,})(?![A-Za-z0-9])/gd,
  1,
);
export const slackToken: DetectFn = (seg, out) => {
  slackTokens(seg, out);
  return slackWebhook(seg, out);
};

export const stripeKey = tokenDetector('stripe-key', /[sr]k_(?:live|test)_[A-Za-z0-9]{10,}/g, isAlnum);

export const googleApiKey = tokenDetector('google-api-key', /AIza[A-Za-z0-9_-]{35}/g, b64url);

function decodesToJson(segment: string): boolean {
  try {
    const v: unknown = JSON.parse(Buffer.from(segment, 'base64url').toString('utf8'));
    return typeof v === 'object' && v !== null;
  } catch {
    return false;
  }
}

const jwtTokens = tokenDetector(
  'jwt',
  /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g,
  b64url,
  (m) => {
    const [a, b] = m.split('.');
    return decodesToJson(a!) && decodesToJson(b!);
  },
);
/** Three segments, not the first three of a longer dotted name (a sentence's full stop may follow). */
export const jwt: DetectFn = (seg, out) => {
  const mine: Span[] = [];
  const hold = jwtTokens(seg, mine);
  const t = seg.text;
  for (const sp of mine) if (!(t.charCodeAt(sp.e) === 0x2e && b64url(t.charCodeAt(sp.e + 1)))) out.push(sp);
  return hold;
};

// The password runs to the *last* "@" of the authority (which ends at the first "/", "?" or "#"),
// as WHATWG URL parsers and so real clients read it: `postgres://app:p@ss@db` has the password
// `p@ss`. An "@" belongs to the password only when another "@" follows before a blank, "/?#" or
// a quote or bracket, so `"postgres://u:pw@db","to":"a@b"` keeps its host. Each character has
// one way to match (linear), and the length is bounded.
const URL_PW = `(?:[^ \\t\\n\\v\\f\\r/?#@]|@(?=[^ \\t\\n\\v\\f\\r/?#@"'<>\`]*@)){1,256}`;
// Find each "://" first and walk back over the scheme: a regex starting with a character class
// would be tried at every letter of long base64 runs (quadratic in the run length).
const URL_REST = new RegExp(`://[^ \\t\\n\\v\\f\\r:@/?#]*:(${URL_PW})@(?=[^ \\t\\n\\v\\f\\r@/?#])`, 'yd');
const isSchemeChar = (c: number) => isAlnum(c) || c === 0x2b || c === 0x2e || c === 0x2d; // RFC 3986 §3.1
const isLetter = (c: number) => (c | 0x20) >= 0x61 && (c | 0x20) <= 0x7a;
export const urlCredentials: DetectFn = (seg: Seg, out: Span[]) => {
  const t = seg.text;
  let from = 0;
  for (;;) {
    const i = t.indexOf('://', from);
    if (i < 0) break;
    from = i + 1;
    let p = i;
    while (p > 0 && isSchemeChar(t.charCodeAt(p - 1))) p--;
    while (p < i && !isLetter(t.charCodeAt(p))) p++; // a scheme starts with a letter
    if (p === i) continue;
    URL_REST.lastIndex = i;
    const m = URL_REST.exec(t);
    if (!m) continue;
    const ix = m.indices?.[1];
    if (ix && ix[1] > ix[0] && leftEdge(seg, p)) out.push({ s: ix[0], e: ix[1], id: 'url-credentials' });
    from = i + m[0].length;
  }
  return t.length;
};

const bearerHeader = groupDetector(
  'bearer-token',
  new RegExp(`authorization["']?${WS}*[:=]${WS}*["']?(?:bearer|basic|token)[ \\t]+([A-Za-z0-9._~+/-]+=*)`, 'gid'),
  1,
);
const bareBearer = groupDetector('bearer-token', /bearer[ \t]+([A-Za-z0-9._~+/-]{16,}=*)/gid, 1, (seg, s) => leftEdge(seg, s));
export const bearerToken: DetectFn = (seg, out) => {
  bearerHeader(seg, out);
  return bareBearer(seg, out);
};
