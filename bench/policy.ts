/**
 * Policy engine benchmark: decisions/s on a realistic mix of 10,000 command lines, uncached and
 * cached, and the worst case (a 16 KiB line, deeply nested `sh -c`) in ms.
 * `npm run bench:policy`; the global bench imports runPolicyBench().
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { decideLine, initPolicyEngine, loadPolicyFile, type DecideContext } from '../src/policy/index.js';
import { decideUncached } from '../src/policy/decide-line.js';
import { decisionCache } from '../src/policy/decision-cache.js';
import type { Policy } from '../src/policy/load-policy.js';

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!(existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'policies')))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('repository root not found');
    dir = up;
  }
  return dir;
}

const TEMPLATES: ((n: number) => string)[] = [
  (n) => `ls -la /var/log/app${n}`,
  (n) => `tail -n ${n % 500} /var/log/syslog | grep -c WARN`,
  (n) => `cat /etc/os-release | grep VERSION | head -n ${n % 9}`,
  (n) => `systemctl status svc${n}`,
  (n) => `journalctl -u svc${n} --since today --no-pager`,
  (n) => `git log --oneline -n ${n % 50}`,
  (n) => `df -h; free -m; uptime # ${n}`,
  (n) => `sudo -u www-data cat /var/www/app${n}/config.php`,
  (n) => `timeout 5 grep -rn "ERROR ${n}" /var/log/app.log`,
  (n) => `find /var/log -name '*.${n}.gz' -exec ls -l {} +`,
  (n) => `echo "run ${n}" > /tmp/out${n}.txt`,
  (n) => `rm -rf /srv/build${n}`,
  (n) => `systemctl restart svc${n} && systemctl status svc${n}`,
  (n) => `bash -c 'uptime; whoami; echo ${n}'`,
  (n) => `for f in /var/log/*.log; do wc -l "$f"; done # ${n}`,
  (n) => `ps aux | grep -v grep | grep nginx${n}`,
  (n) => `echo $(hostname)-${n}`,
  (n) => `du -sh /var/lib/docker/volumes/v${n} 2>/dev/null`,
];

export function workload(count: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) lines.push(TEMPLATES[i % TEMPLATES.length]!(i));
  return lines;
}

function nestedShell(levels: number): string {
  let line = 'uptime';
  for (let i = 0; i < levels; i++) line = `sh -c ${"'" + line.replace(/'/g, `'\\''`) + "'"}`;
  return line;
}

export async function runPolicyBench(opts: { quick: boolean }): Promise<{ uncachedPerSec: number; cachedPerSec: number; worstCaseMs: number }> {
  await initPolicyEngine();
  const policy = loadPolicyFile(path.join(repoRoot(), 'policies', 'default.yaml')) as Policy;
  const ctx: DecideContext = { subject: 'agent-1', groups: ['agents'], target: 'web-1' };
  const lines = workload(opts.quick ? 2000 : 10_000);
  const rounds = opts.quick ? 1 : 3;

  // Warm up the JIT and the wasm parser.
  for (const l of lines.slice(0, 500)) decideUncached(policy, l, ctx);

  let t = performance.now();
  for (let r = 0; r < rounds; r++) for (const l of lines) decideUncached(policy, l, ctx);
  const uncachedPerSec = (lines.length * rounds) / ((performance.now() - t) / 1000);

  decisionCache.clear();
  for (const l of lines) decideLine(policy, l, ctx); // fill
  t = performance.now();
  const cachedRounds = rounds * 5;
  for (let r = 0; r < cachedRounds; r++) for (const l of lines) decideLine(policy, l, ctx);
  const cachedPerSec = (lines.length * cachedRounds) / ((performance.now() - t) / 1000);

  // Worst cases, each timed uncached: the longest allowed line, many commands, deep nesting.
  const long16k = 'echo ' + 'abcdefg '.repeat(2046);
  const pipes16k = Array.from({ length: 1600 }, (_, i) => `ls /x${i % 10}`).join(' | ').slice(0, 16380).replace(/ \|[^|]*$/, '');
  const wide16k = 'cat ' + Array.from({ length: 1500 }, (_, i) => `"$v${i}"`).join(' ').slice(0, 16000);
  const parens = '('.repeat(150) + 'ls' + ')'.repeat(150);
  const worst = [long16k, pipes16k, wide16k, parens, nestedShell(7), nestedShell(9), 'watch '.repeat(50) + 'ls'];
  let worstCaseMs = 0;
  for (const l of worst) {
    const s = performance.now();
    decideUncached(policy, l, ctx);
    worstCaseMs = Math.max(worstCaseMs, performance.now() - s);
  }
  return { uncachedPerSec, cachedPerSec, worstCaseMs };
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const r = await runPolicyBench({ quick });
  const rows: [string, string][] = [
    ['uncached decisions/s', Math.round(r.uncachedPerSec).toLocaleString('en-US')],
    ['cached decisions/s', Math.round(r.cachedPerSec).toLocaleString('en-US')],
    ['worst case (16 KiB line, nested sh -c) ms', r.worstCaseMs.toFixed(2)],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`policy engine (${quick ? 'quick, 2,000 lines' : '10,000 lines'}, policies/default.yaml)\n`);
  for (const [k, v] of rows) process.stdout.write(`  ${k.padEnd(w)}  ${v.padStart(12)}\n`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    process.stderr.write(`bench:policy: ${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  });
}
