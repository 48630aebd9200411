import { randomBytes } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { configFromFlag } from './config-flag.js';
import { parseFlags, print, type CliIO } from './io.js';
import { run as serve } from './serve.js';
import { UsageError } from '../errors.js';

export const help = `usage: shellgate demo [--config FILE] [--ssh HOST:PORT] [--http HOST:PORT]

Run a demo gateway on an embedded default: the dev OIDC issuer, a "local" target (a shell
on this machine via node-pty) with the sample policy (policies/default.yaml), SQLite under
./data and recordings under ./recordings. Writes that config to ./shellgate.yaml when no
such file exists (so shellgate token, approvals and audit find it) and says so; an existing
file is used as it is. Prints how to get a token and connect.

options:
  --ssh HOST:PORT   SSH listen address written into a new config (default 127.0.0.1:2222)
  --http HOST:PORT  HTTP listen address written into a new config (default 127.0.0.1:8080)
`;

const packageRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

export function demoConfigText(cwd: string, listen: { ssh: string; http: string } = { ssh: '127.0.0.1:2222', http: '127.0.0.1:8080' }): string {
  const policies = path.relative(cwd, path.join(packageRoot, 'policies')) || '.';
  return `# shellgate demo config, written by \`shellgate demo\`. Reference: docs/config.md.
listen:
  ssh: ${listen.ssh}
  http: ${listen.http}
hostKey: data/host_ed25519
store: data/shellgate.db
recordings: recordings
policies: ${policies}
identity:
  issuers: []
  devIssuer: true          # shellgate token mints tokens; never enable in production
targets:
  local:
    kind: local            # a shell on this machine, via node-pty
    shell: /bin/bash
    policy: default
approvals:
  timeout: 300s
audit:
  checkpointEvery: 100
  checkpointInterval: 60s
  witness: data/witness.jsonl
web:
  adminToken: ${randomBytes(24).toString('base64url')}   # random, for the API (Authorization: Bearer …)
`;
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values } = parseFlags(argv, { config: { type: 'string' }, ssh: { type: 'string' }, http: { type: 'string' } }, false);
  const file = path.resolve(io.cwd, values.config ?? 'shellgate.yaml');
  if (!existsSync(file)) {
    const listen = { ssh: values.ssh ?? '127.0.0.1:2222', http: values.http ?? '127.0.0.1:8080' };
    for (const [k, v] of Object.entries(listen)) if (!/^[\w.:[\]-]+:\d{1,5}$/.test(v)) throw new UsageError(`--${k} must be HOST:PORT`);
    writeFileSync(file, demoConfigText(path.dirname(file), listen), { mode: 0o600, flag: 'wx' });
    print(io.stderr, `shellgate demo: wrote the demo config to ${file}`);
  } else {
    print(io.stderr, `shellgate demo: using the existing config ${file}`);
  }
  const config = configFromFlag(file, io);
  const cli = path.relative(io.cwd, path.join(packageRoot, 'bin', 'shellgate.js')) || 'bin/shellgate.js';
  const askpass = path.relative(io.cwd, path.join(packageRoot, 'bin', 'shellgate-askpass'));
  const target = Object.keys(config.targets)[0] ?? 'local';
  const { host, port } = config.listen.ssh;
  print(
    io.stderr,
    `
shellgate demo — in another terminal:

  # 1. a token from the dev issuer (15 minutes)
  export SHELLGATE_TOKEN=$(${cli} token --sub demo-agent --group agents)

  # 2a. with OpenSSH (the askpass helper answers the "OIDC token:" prompt)
  SSH_ASKPASS=${askpass} SSH_ASKPASS_REQUIRE=force ssh -p ${port} \\
    -o PreferredAuthentications=keyboard-interactive -o StrictHostKeyChecking=accept-new \\
    ${target}@${host} 'uptime; ls /tmp'

  # 2b. or with shellgate's own client
  ${cli} ssh ${target} -- 'cat /etc/hostname'

  # a denied command (exit 126):   ${cli} ssh ${target} -- 'rm -rf /tmp/x'
  # pending approvals:             ${cli} approvals
  # the evidence:                  ${cli} sessions ; ${cli} audit verify
`,
  );
  return serve(['--config', file], io);
}
