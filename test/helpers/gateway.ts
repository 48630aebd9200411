import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { GATEWAY_NODE_FLAGS } from '../../src/cli/node-flags.js';
import { loadDevIssuer } from '../../src/identity/dev-issuer.js';
import { cliPath } from './paths.js';
import type { SshdHandle } from './sshd.js';
import { tempDir } from './tmp.js';

/** A test policy: enough to exercise allow, deny and approve through the gateway. */
export const TEST_POLICY = `version: 1
default: deny
unanalyzable: deny
shell: passthrough
rules:
  - id: no-destructive
    decision: deny
    match: ["rm -r **", "rm -R **", "rm --recursive **", "> /tmp/shellgate-side-effect*"]
  - id: restarts-need-a-human
    decision: approve
    match: ["systemctl restart *", "touch **"]
  - id: two-person
    decision: approve
    approvers: 2
    match: ["mkdir **"]
  - id: inspection
    decision: allow
    match: [cat, echo, printf, head, base64, "true", "false", ls, uptime, sleep, wc, sha256sum, id, yes, dd, seq, "sh -c **", env, kill, exit, sudo]
`;

export interface GatewayHandle {
  dir: string;
  configFile: string;
  sshPort: number;
  httpPort: number;
  adminToken: string;
  /** The environment the gateway runs with (its master key and admin token). */
  env: NodeJS.ProcessEnv;
  /** Remove the folder (after a crash test that killed the process itself). */
  cleanup: () => void;
  proc: ChildProcess;
  /** Every log line so far (parsed JSON). */
  logs: Record<string, unknown>[];
  hostKeyPub: string;
  knownHostsFile: string;
  token(sub?: string, groups?: string[], ttlSeconds?: number): Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  waitForLog(pred: (l: Record<string, unknown>) => boolean, timeoutMs?: number): Promise<Record<string, unknown>>;
}

export interface GatewayOptions {
  sshd?: SshdHandle;
  /** Override the pinned upstream host key (to test a mismatch). */
  upstreamHostKey?: string;
  policy?: string;
  extraYaml?: string;
  /** More policy files: name → YAML. */
  extraPolicies?: Record<string, string>;
  /** Top-level YAML appended before `targets:` (e.g. a `limits:` block). */
  topYaml?: string;
  /** Replaces the body of the `approvals:` block (default: `timeout: 20s`). */
  approvals?: string;
  /** Extra OIDC issuers (a real provider on loopback). */
  issuers?: { issuer: string; audience: string }[];
  /** Reuse this folder (restart tests). */
  dir?: string;
  env?: NodeJS.ProcessEnv;
}

/** Write a config for a fresh gateway in a temp folder: dev issuer, a local target and (optionally) an sshd target. */
export function writeGatewayConfig(opts: GatewayOptions): { dir: string; configFile: string; adminToken: string; env: NodeJS.ProcessEnv; cleanup: () => void } {
  const t = opts.dir ? { dir: opts.dir, cleanup: () => undefined } : tempDir('shellgate-gw-');
  const dir = t.dir;
  mkdirSync(path.join(dir, 'policies'), { recursive: true });
  writeFileSync(path.join(dir, 'policies', 'test.yaml'), opts.policy ?? TEST_POLICY);
  for (const [name, yaml] of Object.entries(opts.extraPolicies ?? {})) writeFileSync(path.join(dir, 'policies', `${name}.yaml`), yaml);
  const masterKey = randomBytes(32).toString('base64');
  const adminToken = randomBytes(24).toString('base64url');
  const env = { ...process.env, ...opts.env, SHELLGATE_MASTER_KEY: masterKey, SHELLGATE_ADMIN_TOKEN: adminToken };
  const sshd = opts.sshd;
  const cfg = `listen:
  ssh: 127.0.0.1:0
  http: 127.0.0.1:0
hostKey: data/host_ed25519
store: data/shellgate.db
recordings: recordings
policies: policies
identity:
  devIssuer: true
${opts.issuers?.length ? '  issuers:\n' + opts.issuers.map((i) => `    - issuer: ${i.issuer}\n      audience: ${i.audience}\n`).join('') : ''}vault:
  masterKey: \${SHELLGATE_MASTER_KEY}
web:
  adminToken: \${SHELLGATE_ADMIN_TOKEN}
approvals:
${opts.approvals ?? '  timeout: 20s\n'}audit:
  checkpointEvery: 50
  checkpointInterval: 5s
  witness: data/witness.jsonl
${opts.topYaml ?? ''}targets:
  local:
    kind: local
    shell: /bin/sh
    policy: test
${
  sshd
    ? `  web-1:
    host: 127.0.0.1
    port: ${sshd.port}
    user: ${sshd.user}
    credential: web-key
    hostKey: "${opts.upstreamHostKey ?? sshd.hostKeyFingerprint}"
    policy: test
`
    : ''
}${opts.extraYaml ?? ''}`;
  const configFile = path.join(dir, 'shellgate.yaml');
  writeFileSync(configFile, cfg);
  return { dir, configFile, adminToken, env, cleanup: t.cleanup };
}

/** Start `shellgate serve` as a child process (a real process: SIGTERM/SIGKILL tests work) and read its listening line. */
export async function startGateway(opts: GatewayOptions = {}): Promise<GatewayHandle> {
  const w = writeGatewayConfig(opts);
  const { dir, configFile, adminToken, env } = w;
  if (opts.sshd) {
    const add = spawn(process.execPath, [cliPath, 'vault', 'add', 'web-key', '--key', opts.sshd.clientKeyFile, '--config', configFile], { env });
    let err = '';
    add.stderr.on('data', (d) => (err += d));
    const code = await new Promise((r) => add.once('exit', r));
    if (code !== 0) throw new Error(`vault add failed: ${err}`);
  }
  return await launch(dir, configFile, adminToken, env, w.cleanup);
}

/** Start a gateway process on an existing folder (after a crash, say). */
export async function launch(dir: string, configFile: string, adminToken: string, env: NodeJS.ProcessEnv, cleanup: () => void = () => undefined): Promise<GatewayHandle> {
  const proc = spawn(process.execPath, [...GATEWAY_NODE_FLAGS, cliPath, 'serve', '--config', configFile], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: Record<string, unknown>[] = [];
  const waiters: { pred: (l: Record<string, unknown>) => boolean; resolve: (l: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  proc.stderr!.on('data', (d) => (stderr += d));
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    let obj: Record<string, unknown>;
    try {
      obj = JSON.parse(line) as Record<string, unknown>;
    } catch {
      obj = { raw: line };
    }
    logs.push(obj);
    for (const w of [...waiters]) if (w.pred(obj)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(obj);
    }
  });
  const waitForLog = (pred: (l: Record<string, unknown>) => boolean, timeoutMs = 20_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const hit = logs.find(pred);
      if (hit) return resolve(hit);
      const timer = setTimeout(() => reject(new Error(`log line not seen in ${timeoutMs} ms; stderr: ${stderr.slice(-2000)}`)), timeoutMs);
      waiters.push({ pred, resolve: (l) => (clearTimeout(timer), resolve(l)) });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`gateway exited (${code}) before the log line; stderr: ${stderr.slice(-2000)}`));
      });
    });
  const listening = await waitForLog((l) => l.msg === 'listening');
  const sshPort = Number(String(listening.ssh).split(':').pop());
  const httpPort = Number(String(listening.http).split(':').pop());
  const hostKeyPub = readFileSync(path.join(dir, 'data', 'host_ed25519.pub'), 'utf8').trim();
  const knownHostsFile = path.join(dir, 'known_hosts');
  writeFileSync(knownHostsFile, `[127.0.0.1]:${sshPort} ${hostKeyPub.split(/\s+/).slice(0, 2).join(' ')}\n`);
  const issuer = await loadDevIssuer(path.join(dir, 'data'), { create: false });
  return {
    dir,
    configFile,
    sshPort,
    httpPort,
    adminToken,
    env,
    cleanup,
    proc,
    logs,
    hostKeyPub,
    knownHostsFile,
    token: (sub = 'agent-1', groups = ['agents'], ttlSeconds = 600) => issuer.mint({ sub, groups, ttlSeconds }),
    waitForLog,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      let code: number | null = proc.exitCode;
      if (code === null && proc.signalCode === null) {
        const exited = new Promise<number | null>((r) => proc.once('exit', (c) => r(c)));
        proc.kill(signal);
        const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        code = await exited;
        clearTimeout(timer);
      }
      cleanup();
      return code;
    },
  };
}
