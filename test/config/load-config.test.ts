import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config/load-config.js';
import { parseDuration } from '../../src/config/duration.js';
import { ConfigError } from '../../src/errors.js';
import { cliPath } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

const FP = 'SHA256:' + 'A'.repeat(43);

/** A fresh folder holding `policies/default.yaml`, as a config written beside it needs. */
function configFolder(): { dir: string; cleanup: () => void } {
  const t = tempDir();
  mkdirSync(path.join(t.dir, 'policies'));
  writeFileSync(path.join(t.dir, 'policies', 'default.yaml'), 'version: 1\nrules: []\n');
  return t;
}

function withConfig(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const t = configFolder();
  const file = path.join(t.dir, 'shellgate.yaml');
  writeFileSync(file, yaml);
  try {
    return { config: loadConfig(file, env), file, dir: t.dir };
  } finally {
    t.cleanup();
  }
}

function configError(yaml: string, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    withConfig(yaml, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('config was accepted');
}

const KEY = () => randomBytes(32).toString('base64');
const base = (extra = '') => `identity:\n  devIssuer: true\n${extra}`;

test('defaults, relative paths resolved against the config folder, frozen', () => {
  const { config, dir } = withConfig(base('targets:\n  local:\n    kind: local\n'));
  assert.deepEqual(config.listen.ssh, { host: '127.0.0.1', port: 2222 });
  assert.equal(config.listen.http, null);
  assert.equal(config.store, path.join(dir, 'data', 'shellgate.db'));
  assert.equal(config.dataDir, path.join(dir, 'data'));
  assert.equal(config.recordings, path.join(dir, 'recordings'));
  assert.equal(config.approvals.timeoutMs, 300_000);
  assert.equal(config.audit.checkpointIntervalMs, 60_000);
  assert.equal(config.targets.local!.kind, 'local');
  assert.ok(Object.isFrozen(config) && Object.isFrozen(config.targets.local));
});

test('every documented key of config.md is accepted', () => {
  const key = KEY();
  const { config } = withConfig(
    `listen:
  ssh: 127.0.0.1:0
  http: 127.0.0.1:0
hostKey: data/host_ed25519
store: data/shellgate.db
recordings: recordings
policies: policies
identity:
  issuers:
    - issuer: https://idp.example.com
      audience: shellgate
      jwksUri: https://idp.example.com/jwks
      groupsClaim: groups
  devIssuer: false
vault:
  masterKey: \${MK}
targets:
  web-1:
    host: 10.0.0.5
    port: 22
    user: deploy
    credential: web-key
    hostKey: "${FP}"
    policy: default
  local:
    kind: local
    shell: /bin/bash
    policy: default
approvals:
  timeout: 300s
  webhooks:
    - url: https://chat.example.com/hooks/shellgate
      secret: \${WH}
audit:
  checkpointEvery: 100
  checkpointInterval: 60s
  witness: data/witness.jsonl
web:
  adminToken: \${AT}
`,
    { MK: key, WH: 'w'.repeat(32), AT: 'a'.repeat(32) },
  );
  assert.equal(config.listen.ssh.port, 0);
  assert.equal(config.vault.masterKey?.toString('base64'), key);
  const web1 = config.targets['web-1']!;
  assert.ok(web1.kind === 'ssh' && web1.port === 22 && web1.hostKey === FP);
  assert.equal(config.approvals.webhooks[0]!.secret, 'w'.repeat(32));
});

test('missing key: the error names the option path', () => {
  const err = configError(base(`vault:\n  masterKey: ${KEY()}\ntargets:\n  web-1:\n    host: h\n    credential: c\n    hostKey: "${FP}"\n`));
  assert.match(err.message, /targets\.web-1\.user: is required/);
});

test('bad type: the error names the path and what is wrong', () => {
  const err = configError(base(`vault:\n  masterKey: ${KEY()}\ntargets:\n  web-1:\n    host: h\n    port: "twenty-two"\n    user: u\n    credential: c\n    hostKey: "${FP}"\n`));
  assert.match(err.message, /targets\.web-1\.port: must be an integer from 1 to 65535/);
  assert.match(configError('listen:\n  ssh: nonsense\n' + base()).message, /listen\.ssh: must be HOST:PORT/);
  assert.match(configError(base('approvals:\n  timeout: soon\n')).message, /approvals\.timeout: must be a duration/);
});

test('bad field value: unknown target kind, bad fingerprint, missing policy file, unknown key', () => {
  assert.match(configError(base('targets:\n  x:\n    kind: telnet\n')).message, /targets\.x\.kind: must be "ssh" or "local"/);
  assert.match(
    configError(base(`vault:\n  masterKey: ${KEY()}\ntargets:\n  w:\n    host: h\n    user: u\n    credential: c\n    hostKey: md5:aa\n`)).message,
    /targets\.w\.hostKey: must be an OpenSSH SHA256 fingerprint/,
  );
  assert.match(configError(base('targets:\n  l:\n    kind: local\n    policy: nope\n')).message, /targets\.l\.policy: no policy file/);
  assert.match(configError(base('targets:\n  l:\n    kind: local\n    shel: /bin/sh\n')).message, /targets\.l\.shel: unknown option/);
});

test('${ENV} substitution; an unset variable is an error naming the path and variable, never a value', () => {
  const err = configError(base('web:\n  adminToken: ${NOPE_NOT_SET}\n'));
  assert.match(err.message, /web\.adminToken: environment variable NOPE_NOT_SET is not set/);
  const { config } = withConfig(base('web:\n  adminToken: pre-${TOK}\n'), { TOK: 'x'.repeat(20) });
  assert.equal(config.web.adminToken, 'pre-' + 'x'.repeat(20));
});

test('security constraints: no issuer at all, http issuer off loopback, short master key, ssh target without vault', () => {
  assert.match(configError('targets: {}\n').message, /identity\.issuers: no issuer configured/);
  assert.match(
    configError('identity:\n  issuers:\n    - issuer: http://idp.example.com\n      audience: a\n').message,
    /identity\.issuers\[0\]\.issuer: must be an https URL/,
  );
  assert.match(configError(base('vault:\n  masterKey: c2hvcnQ=\n')).message, /vault\.masterKey: must be 32 bytes/);
  assert.match(configError(base(`targets:\n  w:\n    host: h\n    user: u\n    credential: c\n    hostKey: "${FP}"\n`)).message, /vault\.masterKey: is required/);
});

test('invalid YAML names the line', () => {
  assert.match(configError('listen:\n  ssh: [\n').message, /line \d+: invalid YAML/);
});

test('durations', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1.5m'), 90_000);
  assert.equal(parseDuration('2h'), 7_200_000);
  assert.equal(parseDuration('5 days'), null);
});

test('`shellgate serve` with a bad config exits 2 with the path, before listening', () => {
  const t = configFolder();
  try {
    const file = path.join(t.dir, 'bad.yaml');
    writeFileSync(file, base('targets:\n  web-1:\n    kind: local\n    shell: relative/sh\n'));
    const r = spawnSync(process.execPath, [cliPath, 'serve', '--config', file], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /bad\.yaml: targets\.web-1\.shell: must be an absolute path/);
    assert.doesNotMatch(r.stdout, /listening/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  } finally {
    t.cleanup();
  }
});

test('audit.witness: a file path or an http(s) URL (audit.md); witnessUrl beside a file', () => {
  const url = 'https://witness.example.com/checkpoints';
  let c = withConfig(base(`audit:\n  witness: ${url}\n`)).config;
  assert.deepEqual([c.audit.witness, c.audit.witnessUrl], [null, url]);
  const w = withConfig(base('audit:\n  witness: data/witness.jsonl\n'));
  assert.deepEqual([w.config.audit.witness, w.config.audit.witnessUrl], [path.join(path.dirname(w.file), 'data', 'witness.jsonl'), null]);
  c = withConfig(base(`audit:\n  witness: data/witness.jsonl\n  witnessUrl: ${url}\n`)).config;
  assert.deepEqual([path.basename(c.audit.witness!), c.audit.witnessUrl], ['witness.jsonl', url]);
  c = withConfig(base(`audit:\n  witness: ${url}\n  witnessUrl: ${url}\n`)).config;
  assert.deepEqual([c.audit.witness, c.audit.witnessUrl], [null, url]);
  assert.match(configError(base('audit:\n  witness: ftp://witness.example.com/x\n')).message, /audit\.witness: must be a file path or an http\(s\) URL/);
  assert.match(configError(base(`audit:\n  witness: ${url}\n  witnessUrl: https://other.example.com/\n`)).message, /audit\.witnessUrl: give one witness URL/);
  assert.match(configError(base('audit:\n  witnessUrl: not a url\n')).message, /audit\.witnessUrl: must be an http\(s\) URL/);
});

test('${ENV} gives numbers and booleans too (an environment variable is text); a quoted number written in the file does not', () => {
  const target = (port: string, fwd = 'false') =>
    base(`vault:\n  masterKey: ${KEY()}\ntargets:\n  web-1:\n    host: h\n    port: ${port}\n    user: u\n    credential: c\n    hostKey: "${FP}"\n    allowForwarding: ${fwd}\n`);
  const { config } = withConfig(target('${PORT}', '${FWD}'), { PORT: '2200', FWD: 'true' });
  const web1 = config.targets['web-1']!;
  assert.ok(web1.kind === 'ssh');
  assert.equal(web1.port, 2200);
  assert.equal(web1.allowForwarding, true);
  assert.match(configError(target('${PORT}'), { PORT: 'twenty-two' }).message, /targets\.web-1\.port: must be an integer from 1 to 65535, got/);
  assert.match(configError(target('${PORT}'), { PORT: '70000' }).message, /targets\.web-1\.port: must be an integer/);
  assert.match(configError(target('"22"')).message, /targets\.web-1\.port: must be an integer/);
  assert.match(configError(target('22', '${FWD}'), { FWD: 'yes' }).message, /targets\.web-1\.allowForwarding: must be true or false/);
});

test('secrets left out where a command only reads where things are: unset ${VARS} in secret options, for token, approvals, audit, sessions', () => {
  const t = configFolder();
  try {
    const file = path.join(t.dir, 'shellgate.yaml');
    const yaml = (store: string) => `store: ${store}
identity:
  devIssuer: true
vault:
  masterKey: \${SG_TEST_MASTER_KEY}
targets:
  web-1:
    host: h
    user: u
    credential: c
    hostKey: "${FP}"
approvals:
  webhooks:
    - url: https://chat.example.com/hook
      secret: \${SG_TEST_WEBHOOK_SECRET}
web:
  adminToken: \${SG_TEST_ADMIN_TOKEN}
`;
    writeFileSync(file, yaml('data/shellgate.db'));
    // The gateway needs them all.
    assert.throws(() => loadConfig(file, {}), (err: Error) => err instanceof ConfigError && /vault\.masterKey: environment variable SG_TEST_MASTER_KEY is not set/.test(err.message));
    const c = loadConfig(file, {}, { secrets: 'optional' });
    assert.deepEqual([c.vault.masterKey, c.web.adminToken, c.approvals.webhooks[0]!.secret, c.store], [null, null, '', path.join(t.dir, 'data', 'shellgate.db')]);
    // Set ones are still read and checked; unset non-secret options are still errors.
    const key = KEY();
    assert.equal(loadConfig(file, { SG_TEST_MASTER_KEY: key }, { secrets: 'optional' }).vault.masterKey?.toString('base64'), key);
    assert.throws(() => loadConfig(file, { SG_TEST_MASTER_KEY: 'short' }, { secrets: 'optional' }), /vault\.masterKey: must be 32 bytes/);
    writeFileSync(file, yaml('${SG_TEST_STORE}'));
    assert.throws(() => loadConfig(file, {}, { secrets: 'optional' }), /store: environment variable SG_TEST_STORE is not set/);

    // Through the CLI, with none of the variables set: an approver's and an agent's commands
    // work, the gateway does not start.
    writeFileSync(file, yaml('data/shellgate.db'));
    const env = { PATH: process.env.PATH ?? '' };
    const serve = spawnSync(process.execPath, [cliPath, 'serve', '--config', file], { env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(serve.status, 2);
    assert.match(serve.stderr, /SG_TEST_MASTER_KEY is not set/);
    const token = spawnSync(process.execPath, [cliPath, 'token', '--config', file, '--sub', 'someone'], { env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(token.status, 0, token.stderr);
    assert.match(token.stdout, /^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    // No gateway has run here, so there is no store yet: that (exit 1), not the config (exit 2).
    const list = spawnSync(process.execPath, [cliPath, 'approvals', 'list', '--json', '--config', file], { env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(list.status, 1, list.stderr);
    assert.match(list.stderr, /no store at .*shellgate\.db/);
    const verify = spawnSync(process.execPath, [cliPath, 'audit', 'verify', '--json', '--config', file], { env, encoding: 'utf8', timeout: 30_000 });
    assert.equal(verify.status, 1, verify.stderr);
    assert.match(JSON.parse(verify.stdout).problems[0].reason, /no store/);
  } finally {
    t.cleanup();
  }
});

test('sshAlgorithms: ssh2 defaults unless set; a list narrows and orders them; legacy or unknown names are config errors', () => {
  assert.deepEqual(withConfig(base()).config.sshAlgorithms, { cipher: null, kex: null, mac: null });
  const c = withConfig(base('sshAlgorithms:\n  cipher: [aes256-gcm@openssh.com, aes128-gcm@openssh.com]\n  kex: [curve25519-sha256]\n  mac: [hmac-sha2-512-etm@openssh.com]\n')).config;
  assert.deepEqual(c.sshAlgorithms, { cipher: ['aes256-gcm@openssh.com', 'aes128-gcm@openssh.com'], kex: ['curve25519-sha256'], mac: ['hmac-sha2-512-etm@openssh.com'] });
  assert.ok(Object.isFrozen(c.sshAlgorithms.cipher));
  // ssh2 still speaks these on request; the gateway never offers them.
  for (const [key, name] of [['cipher', 'aes128-cbc'], ['cipher', 'arcfour'], ['kex', 'diffie-hellman-group1-sha1'], ['mac', 'hmac-md5'], ['cipher', 'rot13']]) {
    const e = configError(base(`sshAlgorithms:\n  ${key}: [${name}]\n`));
    assert.match(e.message, new RegExp(`sshAlgorithms\\.${key}: ${name} is not allowed \\(one of: `));
  }
  assert.match(configError(base('sshAlgorithms:\n  cipher: []\n')).message, /sshAlgorithms\.cipher: must name at least one algorithm/);
  assert.match(configError(base('sshAlgorithms:\n  mac: [hmac-sha2-256, hmac-sha2-256]\n')).message, /sshAlgorithms\.mac: names an algorithm twice/);
  assert.match(configError(base('sshAlgorithms:\n  compress: [zlib]\n')).message, /sshAlgorithms\.compress: unknown option/);
  assert.match(configError(base('sshAlgorithms:\n  cipher: aes128-ctr\n')).message, /sshAlgorithms\.cipher: must be a list of non-empty strings/);
});
