import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { isIP } from 'node:net';
import YAML from 'yaml';
import { ConfigError } from '../errors.js';
import { parseDuration } from './duration.js';
import { ALLOWED_SSH_ALGORITHMS } from './ssh-algorithms.js';
import { fromEnvironment, substituteEnv } from './substitute-env.js';
import type { Config, HostPort, IssuerConfig, TargetConfig } from './types.js';

type Obj = Record<string, unknown>;

/**
 * Reads one mapping of the config, tracking the option path for error messages and
 * refusing keys it does not know (a typo in a security setting must not pass silently).
 */
class Section {
  private seen = new Set<string>();
  constructor(
    readonly file: string,
    readonly at: string,
    readonly obj: Obj,
  ) {}

  static of(file: string, at: string, value: unknown): Section {
    if (value === undefined || value === null) return new Section(file, at, {});
    if (typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(file, at, 'must be a mapping');
    return new Section(file, at, value as Obj);
  }

  path(key: string): string {
    return this.at ? `${this.at}.${key}` : key;
  }
  fail(key: string, problem: string): never {
    throw this.error(key, problem);
  }
  error(key: string, problem: string): ConfigError {
    return new ConfigError(this.file, this.path(key), problem);
  }
  raw(key: string): unknown {
    this.seen.add(key);
    return this.obj[key];
  }
  has(key: string): boolean {
    return this.obj[key] !== undefined && this.obj[key] !== null;
  }
  string(key: string, def?: string): string {
    const v = this.raw(key);
    if (v === undefined || v === null) {
      if (def === undefined) this.fail(key, 'is required');
      return def;
    }
    if (typeof v !== 'string' || v.length === 0) this.fail(key, `must be a non-empty string, got ${describe(v)}`);
    return v;
  }
  optString(key: string): string | null {
    return this.has(key) ? this.string(key) : (this.raw(key), null);
  }
  bool(key: string, def: boolean): boolean {
    let v = this.raw(key);
    if (v === undefined || v === null) return def;
    if (typeof v === 'string' && fromEnvironment(this.obj, key) && /^(true|false)$/.test(v)) v = v === 'true';
    if (typeof v !== 'boolean') this.fail(key, `must be true or false, got ${describe(v)}`);
    return v;
  }
  int(key: string, def: number, min: number, max: number): number {
    let v = this.raw(key);
    if (v === undefined || v === null) return def;
    if (typeof v === 'string' && fromEnvironment(this.obj, key) && /^-?\d{1,15}$/.test(v)) v = Number(v);
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max)
      this.fail(key, `must be an integer from ${min} to ${max}, got ${describe(v)}`);
    return v;
  }
  duration(key: string, def: string): number {
    const v = this.raw(key) ?? def;
    const ms = parseDuration(v);
    if (ms === null) this.fail(key, `must be a duration like 300s, 5m, 250ms, got ${describe(v)}`);
    return ms;
  }
  stringList(key: string): string[] {
    const v = this.raw(key);
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string' || s === ''))
      this.fail(key, 'must be a list of non-empty strings');
    return v as string[];
  }
  section(key: string): Section {
    return Section.of(this.file, this.path(key), this.raw(key));
  }
  /** Call last: any key not read is unknown. */
  done(): void {
    for (const k of Object.keys(this.obj)) if (!this.seen.has(k)) this.fail(k, 'unknown option');
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `a string`;
  return `${typeof v} ${String(v)}`;
}

function hostPort(sec: Section, key: string, def: string | null): HostPort | null {
  const v = sec.has(key) ? sec.string(key) : (sec.raw(key), def);
  if (v === null) return null;
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(v);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) sec.fail(key, `must be HOST:PORT (port 0 = any free port), got ${JSON.stringify(v)}`);
  return { host: m[1] ?? m[2]!, port };
}

const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]{43}=?$/;
const ISSUER_FIELDS = new Set(['issuer', 'audience', 'jwksUri', 'groupsClaim']);
void ISSUER_FIELDS;

/** Whether `v` parses as an http or https URL (webhooks, the witness). */
function isHttpUrl(v: string): boolean {
  try {
    const u = new URL(v);
    return u.protocol === 'https:' || u.protocol === 'http:';
  } catch {
    return false;
  }
}

/** The options that hold secrets: see LoadOptions.secrets. */
const SECRET_PATHS = /^(vault\.masterKey|web\.adminToken|web\.oidc\.clientSecret|approvals\.webhooks\[\d+\]\.secret)$/;

export interface LoadOptions {
  /**
   * 'required' (the gateway): every secret as configured. 'optional' (the CLI commands that
   * only read where things are: token, approvals, audit, sessions, replay): a secret whose
   * `${VARIABLE}` is unset, or whose key file cannot be read, is left out, so an approver or an
   * auditor needs neither the vault's master key nor the admin token in their environment.
   */
  secrets?: 'required' | 'optional';
}

/** Validate a parsed config document. Pure except for checking that referenced files exist. */
export function validateConfig(doc: unknown, file: string, env: NodeJS.ProcessEnv, opts: LoadOptions = {}): Config {
  const dir = path.dirname(path.resolve(file));
  const abs = (p: string) => path.resolve(dir, p);
  const secretsOptional = opts.secrets === 'optional';
  const root = Section.of(file, '', substituteEnv(doc ?? {}, env, file, '', secretsOptional ? (at) => SECRET_PATHS.test(at) : undefined));

  const listen = root.section('listen');
  const ssh = hostPort(listen, 'ssh', '127.0.0.1:2222')!;
  const http = hostPort(listen, 'http', null);
  listen.done();

  const hostKey = abs(root.string('hostKey', 'data/host_ed25519'));
  const store = abs(root.string('store', 'data/shellgate.db'));
  const recordings = abs(root.string('recordings', 'recordings'));
  const policies = abs(root.string('policies', 'policies'));
  const logLevel = root.string('logLevel', 'info');
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel))
    root.fail('logLevel', 'must be one of fatal, error, warn, info, debug, trace, silent');

  const ident = root.section('identity');
  const issuersRaw: unknown = ident.raw('issuers') ?? [];
  if (!Array.isArray(issuersRaw)) throw ident.error('issuers', 'must be a list');
  const issuers: IssuerConfig[] = issuersRaw.map((it: unknown, i: number) => {
    const s = Section.of(file, `identity.issuers[${i}]`, it);
    const issuer = s.string('issuer');
    const jwksUri = s.optString('jwksUri');
    for (const [k, u] of [['issuer', issuer], ['jwksUri', jwksUri]] as const) {
      if (u === null) continue;
      let url: URL | null = null;
      try {
        url = new URL(u);
      } catch {
        /* reported below */
      }
      if (!url) throw s.error(k, 'must be a URL');
      // Plain http only for loopback (a dev or test provider): keys fetched over the network must be authenticated.
      if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname)))
        s.fail(k, 'must be an https URL (http is allowed only for loopback addresses)');
    }
    const out = { issuer, audience: s.string('audience'), jwksUri, groupsClaim: s.string('groupsClaim', 'groups') };
    s.done();
    return Object.freeze(out);
  });
  const devIssuer = ident.bool('devIssuer', false);
  ident.done();
  if (issuers.length === 0 && !devIssuer)
    throw new ConfigError(file, 'identity.issuers', 'no issuer configured: add an issuer or set identity.devIssuer: true');

  const targetsSec = root.section('targets');
  const targets: Record<string, TargetConfig> = {};
  let needsVault = false;
  for (const name of Object.keys(targetsSec.obj)) {
    if (!TARGET_NAME.test(name)) targetsSec.fail(name, 'a target name is 1-64 letters, digits, ".", "_" or "-"');
    const t = targetsSec.section(name);
    const kind = t.string('kind', 'ssh');
    if (kind !== 'ssh' && kind !== 'local') t.fail('kind', `must be "ssh" or "local", got ${JSON.stringify(kind)}`);
    const policy = t.string('policy', 'default');
    if (!/^[A-Za-z0-9._-]+$/.test(policy)) t.fail('policy', 'must be a policy name (a file under the policies folder)');
    const policyFile = ['.yaml', '.yml'].map((e) => path.join(policies, policy + e)).find((f) => existsSync(f));
    if (!policyFile) t.fail('policy', `no policy file ${path.join(policies, policy)}.yaml`);
    const common = {
      name,
      policy,
      allowForwarding: t.bool('allowForwarding', false),
      allowAgentForwarding: t.bool('allowAgentForwarding', false),
      allowX11: t.bool('allowX11', false),
      allowSubsystems: t.stringList('allowSubsystems'),
      envAllow: t.stringList('env'),
    };
    if (kind === 'local') {
      const shell = t.string('shell', '/bin/bash');
      if (!path.isAbsolute(shell)) t.fail('shell', 'must be an absolute path');
      const cwd = t.optString('cwd');
      targets[name] = Object.freeze({ ...common, kind: 'local', shell, cwd: cwd === null ? null : abs(cwd) });
    } else {
      needsVault = true;
      const hostKeyFp = t.string('hostKey');
      if (!FINGERPRINT.test(hostKeyFp))
        t.fail('hostKey', 'must be an OpenSSH SHA256 fingerprint ("SHA256:" + 43 base64 characters, as ssh-keygen -lf prints)');
      targets[name] = Object.freeze({
        ...common,
        kind: 'ssh',
        host: t.string('host'),
        port: t.int('port', 22, 1, 65535),
        user: t.string('user'),
        credential: t.string('credential'),
        hostKey: hostKeyFp,
        maxChannelsPerConnection: t.int('maxChannels', 10, 1, 1000),
      });
    }
    t.done();
  }
  targetsSec.done();

  const vaultSec = root.section('vault');
  let masterKey: Buffer | null = null;
  const mkInline = vaultSec.optString('masterKey');
  const mkFile = vaultSec.optString('masterKeyFile');
  if (mkInline !== null && mkFile !== null) vaultSec.fail('masterKey', 'give masterKey or masterKeyFile, not both');
  if (mkInline !== null) masterKey = decodeMasterKey(mkInline, () => vaultSec.fail('masterKey', 'must be 32 bytes, base64-encoded'));
  if (mkFile !== null) {
    let text = '';
    let readable = true;
    try {
      text = readFileSync(abs(mkFile), 'utf8');
    } catch {
      if (!secretsOptional) vaultSec.fail('masterKeyFile', `cannot read ${abs(mkFile)}`);
      readable = false;
    }
    if (readable) masterKey = decodeMasterKey(text.trim(), () => vaultSec.fail('masterKeyFile', 'must hold 32 bytes, base64-encoded'));
  }
  const vaultFile = abs(vaultSec.string('file', path.join(path.relative(dir, path.dirname(store)) || '.', 'vault.json')));
  vaultSec.done();
  if (needsVault && !masterKey && !secretsOptional)
    throw new ConfigError(file, 'vault.masterKey', 'is required when an ssh target is configured (32 bytes, base64)');

  const ap = root.section('approvals');
  const timeoutMs = ap.duration('timeout', '300s');
  const whRaw: unknown = ap.raw('webhooks') ?? [];
  if (!Array.isArray(whRaw)) throw ap.error('webhooks', 'must be a list');
  const webhooks = whRaw.map((w: unknown, i: number) => {
    const s = Section.of(file, `approvals.webhooks[${i}]`, w);
    const url = s.string('url');
    if (!isHttpUrl(url)) s.fail('url', 'must be an http or https URL');
    const secret = secretsOptional && !s.has('secret') ? '' : s.string('secret');
    if (secret.length < 16 && !(secretsOptional && secret === '')) s.fail('secret', 'must be at least 16 characters');
    s.done();
    return Object.freeze({ url, secret });
  });
  const publicUrl = ap.optString('publicUrl');
  ap.done();

  const au = root.section('audit');
  // audit.md: a witness is "a file path or an HTTPS URL"; `witness` takes either (a URL is
  // told by its scheme), `witnessUrl` a URL beside a file.
  const witnessValue = au.has('witness') ? au.string('witness') : (au.raw('witness'), null);
  const witnessIsUrl = witnessValue !== null && /^[a-z][a-z0-9+.-]*:\/\//i.test(witnessValue);
  let witnessUrl = au.optString('witnessUrl');
  if (witnessIsUrl) {
    if (!isHttpUrl(witnessValue)) au.fail('witness', 'must be a file path or an http(s) URL');
    if (witnessUrl !== null && witnessUrl !== witnessValue) au.fail('witnessUrl', 'give one witness URL: witness already is one');
    witnessUrl = witnessValue;
  }
  if (witnessUrl !== null && !isHttpUrl(witnessUrl)) au.fail('witnessUrl', 'must be an http(s) URL');
  const audit = {
    checkpointEvery: au.int('checkpointEvery', 100, 1, 1_000_000),
    checkpointIntervalMs: au.duration('checkpointInterval', '60s'),
    witness: witnessValue !== null && !witnessIsUrl ? abs(witnessValue) : null,
    witnessUrl,
    recordInput: au.bool('recordInput', false),
  };
  au.done();

  const ms = root.section('masking');
  const masking = { idleMs: ms.duration('idleTimeout', '50ms'), enabled: ms.bool('enabled', true) };
  ms.done();
  const rec = root.section('recording');
  const recording = { enabled: rec.bool('enabled', true) };
  rec.done();

  const web = root.section('web');
  const adminToken = web.optString('adminToken');
  if (adminToken !== null && adminToken.length < 16) web.fail('adminToken', 'must be at least 16 characters');
  let webOidc: Config['web']['oidc'] = null;
  if (web.has('oidc')) {
    const o = web.section('oidc');
    const issuer = o.string('issuer');
    let u: URL | null = null;
    try {
      u = new URL(issuer);
    } catch {
      /* below */
    }
    if (!u || (u.protocol !== 'https:' && !(u.protocol === 'http:' && isLoopbackHost(u.hostname))))
      throw o.error('issuer', 'must be an https URL (http is allowed only for loopback addresses)');
    webOidc = {
      issuer,
      clientId: o.string('clientId'),
      clientSecret: o.optString('clientSecret'),
      redirectUri: o.optString('redirectUri'),
      groupsClaim: o.string('groupsClaim', 'groups'),
    };
    o.done();
  } else web.raw('oidc');
  const rolesSec = web.section('roles');
  const roles = { auditor: rolesSec.stringList('auditor'), approver: rolesSec.stringList('approver'), admin: rolesSec.stringList('admin') };
  rolesSec.done();
  const sessionTtlMs = web.duration('sessionTtl', '8h');
  web.done();

  // The SSH algorithms both hops offer, in order of preference (RFC 4253 §7.1: the client's
  // order decides among those both sides list): a narrower list is a crypto policy.
  const alg = root.section('sshAlgorithms');
  const algList = (key: 'cipher' | 'kex' | 'mac'): string[] | null => {
    if (!alg.has(key)) return null;
    const list = alg.stringList(key);
    if (list.length === 0) alg.fail(key, 'must name at least one algorithm');
    const allowed = ALLOWED_SSH_ALGORITHMS[key];
    for (const name of list) if (!allowed.includes(name)) alg.fail(key, `${name} is not allowed (one of: ${allowed.join(', ')})`);
    if (new Set(list).size !== list.length) alg.fail(key, 'names an algorithm twice');
    return list;
  };
  const sshAlgorithms = { cipher: algList('cipher'), kex: algList('kex'), mac: algList('mac') };
  alg.done();

  const lim = root.section('limits');
  const limits = {
    maxChannelsPerConnection: lim.int('maxChannelsPerConnection', 10, 1, 1000),
    upstreamIdleMs: lim.duration('upstreamIdle', '60s'),
    authAttemptsPerMinute: lim.int('authAttemptsPerMinute', 30, 1, 100_000),
  };
  lim.done();
  root.done();

  return deepFreeze({
    file: path.resolve(file),
    listen: { ssh, http },
    hostKey,
    store,
    dataDir: path.dirname(store),
    recordings,
    policies,
    logLevel,
    identity: { issuers, devIssuer },
    vault: { masterKey, file: vaultFile },
    targets,
    approvals: { timeoutMs, webhooks, publicUrl },
    audit,
    masking,
    recording,
    web: { adminToken, oidc: webOidc, roles, sessionTtlMs },
    sshAlgorithms,
    limits,
  }) as Config;
}

function decodeMasterKey(text: string, fail: () => never): Buffer {
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) fail();
  const key = Buffer.from(text, 'base64');
  if (key.length !== 32) fail();
  return key;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  return h === '::1';
}

function deepFreeze<T>(v: T): T {
  if (v && typeof v === 'object' && !Buffer.isBuffer(v)) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/**
 * Load, validate and freeze the config once at start-up. Every problem is a ConfigError
 * naming the file and the option path; the caller exits 2 before listening.
 */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env, opts: LoadOptions = {}): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(file, '', code === 'ENOENT' ? 'config file not found' : `cannot read config file (${code})`);
  }
  let doc: unknown;
  try {
    doc = YAML.parse(text, { prettyErrors: true, uniqueKeys: true });
  } catch (err) {
    const e = err as { linePos?: { line: number; col: number }[]; message: string };
    const where = e.linePos?.[0] ? `line ${e.linePos[0].line}` : '';
    throw new ConfigError(file, where, `invalid YAML: ${e.message.split('\n')[0]}`);
  }
  return validateConfig(doc, file, env, opts);
}
