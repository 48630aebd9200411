import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { decideLine, initPolicyEngine, loadPolicyFile, type CompiledPolicy, type DecideContext, type LineDecision } from '../../src/policy/index.js';

export const tmp = mkdtempSync(path.join(tmpdir(), 'shellgate-policy-test-'));
process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
let n = 0;

/** Writes YAML to a fresh file and returns its path. */
export function writePolicy(yaml: string, name = `p${n++}.yaml`): string {
  const file = path.join(tmp, name);
  writeFileSync(file, yaml);
  return file;
}

export async function policyFrom(yaml: string): Promise<CompiledPolicy> {
  await initPolicyEngine();
  return loadPolicyFile(writePolicy(yaml));
}

export const ctx: DecideContext = { subject: 'agent-1', groups: ['agents'], target: 'web-1' };

/** A policy used by most unit tests: unanalyzable is approve so it is told apart from deny. */
export const UNIT_POLICY = `
version: 1
default: deny
unanalyzable: approve
rules:
  - id: reads
    decision: allow
    match: [ls, cat, grep, echo, head, tail, "systemctl status *", "git log **", "git status", "> /scratch/**", "rm /scratch/*", find, "tar -c **"]
  - id: shells
    decision: allow
    match: ["sh -c **", "bash -c **", sudo, env, timeout, nice, nohup, "xargs **", watch, flock, su, runuser, busybox, doas, ionice, stdbuf, setsid, chrt, taskset, command, builtin, exec, time]
  - id: ask
    decision: approve
    match: ["systemctl restart *", "kill **"]
  - id: destroy
    decision: deny
    match: ["rm -r **", "rm --recursive **", "> /etc/**", "find -delete **", "dd", "mkfs*", "/usr/local/bin/danger"]
`;

let unit: CompiledPolicy | null = null;
export async function unitPolicy(): Promise<CompiledPolicy> {
  unit ??= await policyFrom(UNIT_POLICY);
  return unit;
}

export async function decide(line: string, c: DecideContext = ctx): Promise<LineDecision> {
  return decideLine(await unitPolicy(), line, c);
}

/** The argv lists of the parts of a line, for structural assertions. */
export async function argvs(line: string): Promise<string[][]> {
  return (await decide(line)).commands.map((c) => c.argv);
}
