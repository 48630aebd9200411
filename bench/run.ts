/**
 * `npm run bench [-- --quick]`: the gateway against direct OpenSSH, side by side in one run on
 * loopback. Writes bench/results.json, bench/results.md and bench/latency-concurrency.svg.
 * Method and goals: docs/benchmarks.md and issue 9. Every loop is bounded in count and time.
 */
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Client } from 'ssh2';
import { launchGateway, type BenchGateway } from './launch-gateway.js';
import { startSshd, type SshdHandle } from '../test/helpers/sshd.js';
import { tempDir } from '../test/helpers/tmp.js';
import { lineChart } from './chart.js';
import { connectClient, measureIdle, runLoad, timedExec, type LoadResult } from './load.js';
import { bulkOnce, directEndpoint, gatewayEndpoint, openMaster, ssh, type Endpoint } from './openssh-client.js';
import { cpuSeconds, machineCpu, median, quantile, round, summarize, threadCpuSeconds, type Summary } from './stats.js';

const quick = process.argv.includes('--quick');
const P = quick
  ? { bulkBytes: 32_000_000, bulkReps: 3, latencyN: 50, latencyReps: 3, setupN: 6, sessions: [25, 100, 200], seconds: 8 }
  : { bulkBytes: 200_000_000, bulkReps: 3, latencyN: 1000, latencyReps: 3, setupN: 25, sessions: [100, 500, 1000], seconds: 60 };

const benchDir = path.dirname(fileURLToPath(import.meta.url)).replace(`${path.sep}dist${path.sep}bench`, `${path.sep}bench`);
const log = (s: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

const PLAIN = 'masking:\n  enabled: false\nrecording:\n  enabled: false\n';

interface Upstream {
  port: number;
  fingerprint: string;
  proc: ChildProcess;
}

async function startSsh2Upstream(dir: string): Promise<Upstream> {
  const key = path.join(dir, 'up_host_ed25519');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'bench-upstream', '-f', key]);
  const proc = spawn(process.execPath, [path.join(path.dirname(fileURLToPath(import.meta.url)), 'ssh2-upstream.js'), key], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('ssh2 upstream did not start')), 10_000);
    createInterface({ input: proc.stdout! }).once('line', (l) => {
      clearTimeout(t);
      resolve(l);
    });
  });
  const { port, fingerprint } = JSON.parse(line) as { port: number; fingerprint: string };
  return { port, fingerprint, proc };
}

/** Bulk text file: base64 of random data, 76-column lines like `base64`, exactly `bytes` long. */
function makeBulkFile(file: string, bytes: number): void {
  const fd = openSync(file, 'w');
  try {
    let left = bytes;
    while (left > 0) {
      const raw = randomBytes(57 * 16384);
      const text = raw.toString('base64').replace(/(.{76})/g, '$1\n');
      const buf = Buffer.from(text).subarray(0, left);
      writeSync(fd, buf);
      left -= buf.length;
    }
  } finally {
    closeSync(fd);
  }
}

/** CPU per MB of one side's transfers: the whole machine's, and the gateway's (null for direct). */
export interface ThroughputCpu {
  machineMsPerMB: number;
  gatewayMsPerMB: number | null;
  /** The gateway's main thread (its event loop) alone: near 1,000 ms/s of a transfer, that thread is the bound. */
  gatewayMainThreadMsPerMB: number | null;
  machineBusyPct: number;
  /**
   * The ratio to direct this side would reach if the machine's CPU were the only limit: the
   * MB/s all cores could move at its CPU per MB, over direct's measured MB/s.
   */
  cpuBoundRatio: number;
}

async function measureThroughput(
  file: string,
  sides: { name: string; ep: Endpoint; dir: string; pid?: number }[],
): Promise<{ mbps: Record<string, Summary>; cpu: Record<string, ThroughputCpu> }> {
  const masters = [];
  for (const s of sides) masters.push(await openMaster(s.ep, path.join(s.dir, `cm-${s.name}`)));
  const samples: Record<string, number[]> = Object.fromEntries(sides.map((s) => [s.name, []]));
  const used = Object.fromEntries(sides.map((s) => [s.name, { machine: 0, total: 0, gateway: 0, gatewayMain: 0, mb: 0 }]));
  try {
    // Warm-up: page cache, upstream pool connection, JIT.
    for (let i = 0; i < sides.length; i++) await bulkOnce(sides[i]!.ep, masters[i]!.extra, file, P.bulkBytes);
    for (let rep = 0; rep < P.bulkReps; rep++) {
      for (let i = 0; i < sides.length; i++) {
        const side = sides[i]!;
        const m0 = machineCpu();
        const g0 = side.pid ? cpuSeconds(side.pid) : 0;
        const gm0 = side.pid ? threadCpuSeconds(side.pid) : 0;
        const mbps = await bulkOnce(side.ep, masters[i]!.extra, file, P.bulkBytes);
        const m1 = machineCpu();
        const u = used[side.name]!;
        u.machine += m1.busy - m0.busy;
        u.total += m1.total - m0.total;
        if (side.pid) {
          u.gateway += cpuSeconds(side.pid) - g0;
          u.gatewayMain += threadCpuSeconds(side.pid) - gm0;
        }
        u.mb += P.bulkBytes / 1e6;
        samples[side.name]!.push(mbps);
        log(`throughput rep ${rep + 1}/${P.bulkReps} ${side.name}: ${mbps.toFixed(1)} MB/s`);
      }
    }
  } finally {
    for (const m of masters) await m.close();
  }
  const mbps = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
  const cores = os.cpus().length;
  const directMBps = mbps[sides[0]!.name]!.median;
  const cpu = Object.fromEntries(
    sides.map((side) => {
      const u = used[side.name]!;
      const machineMsPerMB = (u.machine * 1000) / u.mb;
      return [
        side.name,
        {
          machineMsPerMB: round(machineMsPerMB, 2),
          gatewayMsPerMB: side.pid ? round((u.gateway * 1000) / u.mb, 2) : null,
          gatewayMainThreadMsPerMB: side.pid ? round((u.gatewayMain * 1000) / u.mb, 2) : null,
          machineBusyPct: round((u.machine / u.total) * 100, 1),
          cpuBoundRatio: round((cores * 1000) / machineMsPerMB / directMBps),
        },
      ];
    }),
  );
  return { mbps, cpu };
}

/** Per-second p99s as two table cells: the first 10 seconds, then median / max of the rest. */
function bySecond(v: readonly number[] = []): string {
  const head = v.slice(0, 10).map((x) => (Number.isFinite(x) ? String(Math.round(x)) : '–'));
  const rest = v.slice(10).filter((x) => Number.isFinite(x));
  return `${head.join(' ')} | ${rest.length ? `${Math.round(median(rest))} / ${Math.round(Math.max(...rest))}` : '–'}`;
}

/**
 * `n` sequential `true` execs on each connection, alternating command by command, so both
 * sides see the same moments of the machine (sshd's fork-per-exec makes its own latency swing
 * by tens of ms when anything else runs; measuring one side after the other turned that
 * drift into a gateway "cost" of either sign).
 */
async function latencyPair(direct: Client, gateway: Client, n: number): Promise<{ d: number[]; g: number[] }> {
  const d: number[] = [];
  const g: number[] = [];
  for (let i = 0; i < n; i++) {
    d.push(await timedExec(direct, 'true'));
    g.push(await timedExec(gateway, 'true'));
  }
  return { d, g };
}

async function main(): Promise<void> {
  const started = Date.now();
  const t = tempDir('shellgate-bench-');
  const dir = t.dir;
  let sshd: SshdHandle | null = null;
  let up: Upstream | null = null;
  const gws: BenchGateway[] = [];
  // Ctrl-C or a time limit: still stop every process this run started (by its own handle).
  const onSignal = () => {
    for (const gw of gws) gw.proc.kill('SIGKILL');
    up?.proc.kill('SIGKILL');
    sshd?.proc.kill('SIGKILL');
    t.cleanup();
    process.exit(130);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    log(`${quick ? 'quick' : 'full'} run in ${dir}`);
    sshd = await startSshd();
    up = await startSsh2Upstream(dir);
    const upTarget = `  bench-up:\n    host: 127.0.0.1\n    port: ${up.port}\n    user: bench\n    credential: web-key\n    hostKey: "${up.fingerprint}"\n    policy: test\n    maxChannels: 10\n`;
    const gwFull = await launchGateway({ sshd, extraYaml: upTarget });
    gws.push(gwFull);
    const gwPlain = await launchGateway({ sshd, extraYaml: PLAIN });
    gws.push(gwPlain);
    const direct = directEndpoint(sshd.port, sshd.clientKeyFile, sshd.hostKeyPub, sshd.user, dir);
    const gwEp = async (gw: BenchGateway, target = 'web-1') => gatewayEndpoint(gw.sshPort, gw.knownHostsFile, target, await gw.token('bench-agent', ['agents'], 3600));

    // 0. Memory of idle sessions, first: later phases leave garbage whose collection would
    //    shrink the RSS while sessions are added and hide them. One warm-up command before.
    const idleN = P.sessions.at(-1)!;
    const idleToken = await gwFull.token('bench-agent', ['agents'], 3600);
    const warm = await connectClient({ host: '127.0.0.1', port: gwFull.sshPort, username: 'bench-up', tryKeyboard: true, authHandler: ['keyboard-interactive'] }, idleToken);
    await timedExec(warm, 'echo warm');
    warm.end();
    log(`idle sessions: ${idleN} connections through the gateway, no channel`);
    const idleSessions = await measureIdle({
      sessions: idleN,
      pid: gwFull.proc.pid!,
      connect: () => connectClient({ host: '127.0.0.1', port: gwFull.sshPort, username: 'bench-up', tryKeyboard: true, authHandler: ['keyboard-interactive'] }, idleToken),
    });
    log(`idle sessions: RSS ${idleSessions.beforeMb} → ${idleSessions.afterMb} MB, ${idleSessions.kbPerSession} kB/session`);
    // 1. Bulk throughput.
    const bulkFile = path.join(dir, 'bulk.txt');
    makeBulkFile(bulkFile, P.bulkBytes);
    log(`throughput: ${P.bulkBytes / 1e6} MB via one exec, ${P.bulkReps} repetitions per side`);
    const { mbps: tp, cpu: tpCpu } = await measureThroughput(bulkFile, [
      { name: 'direct', ep: direct, dir },
      { name: 'masked', ep: await gwEp(gwFull), dir, pid: gwFull.proc.pid! },
      { name: 'plain', ep: await gwEp(gwPlain), dir, pid: gwPlain.proc.pid! },
    ]);
    const throughput = {
      bytes: P.bulkBytes,
      directMBps: tp.direct!,
      maskedMBps: tp.masked!,
      plainMBps: tp.plain!,
      ratioMasked: round(tp.masked!.median / tp.direct!.median),
      ratioPlain: round(tp.plain!.median / tp.direct!.median),
      cpu: tpCpu as { direct: ThroughputCpu; masked: ThroughputCpu; plain: ThroughputCpu },
    };
    for (const [k, c] of Object.entries(tpCpu)) log(`  CPU ${k}: machine ${c.machineMsPerMB} ms/MB (${c.machineBusyPct} % busy), gateway ${c.gatewayMsPerMB ?? '-'} ms/MB (main thread ${c.gatewayMainThreadMsPerMB ?? '-'}); CPU-bound ratio ${c.cpuBoundRatio}`);

    // 2. Per-command latency on one persistent connection each (ssh2 Client both sides).
    log(`latency: ${P.latencyN} sequential \`true\` execs x ${P.latencyReps} repetitions per side`);
    const dClient = await connectClient({ host: '127.0.0.1', port: sshd.port, username: sshd.user, privateKey: sshd.clientKey }, null);
    const gClient = await connectClient(
      { host: '127.0.0.1', port: gwFull.sshPort, username: 'web-1', tryKeyboard: true, authHandler: ['keyboard-interactive'] },
      await gwFull.token('bench-agent', ['agents'], 3600),
    );
    await latencyPair(dClient, gClient, 20);
    const reps: { d50: number; d99: number; g50: number; g99: number }[] = [];
    for (let rep = 0; rep < P.latencyReps; rep++) {
      const { d, g } = await latencyPair(dClient, gClient, P.latencyN);
      reps.push({ d50: quantile(d, 0.5), d99: quantile(d, 0.99), g50: quantile(g, 0.5), g99: quantile(g, 0.99) });
      log(`latency rep ${rep + 1}: direct p50 ${reps.at(-1)!.d50.toFixed(2)} p99 ${reps.at(-1)!.d99.toFixed(2)} ms; gateway p50 ${reps.at(-1)!.g50.toFixed(2)} p99 ${reps.at(-1)!.g99.toFixed(2)} ms`);
    }
    dClient.end();
    gClient.end();
    const latency = {
      execs: P.latencyN,
      directP50Ms: summarize(reps.map((r) => r.d50)),
      directP99Ms: summarize(reps.map((r) => r.d99)),
      gatewayP50Ms: summarize(reps.map((r) => r.g50)),
      gatewayP99Ms: summarize(reps.map((r) => r.g99)),
      addedP50Ms: round(median(reps.map((r) => r.g50 - r.d50)), 3),
      addedP99Ms: round(median(reps.map((r) => r.g99 - r.d99)), 3),
      addedP50Spread: summarize(reps.map((r) => r.g50 - r.d50)),
      addedP99Spread: summarize(reps.map((r) => r.g99 - r.d99)),
    };

    // 2b. The same against the ssh2 upstream, which answers without forking: what the gateway
    //     itself adds, without sshd's per-exec fork and shell start-up in the noise.
    log(`latency (ssh2 upstream): ${P.latencyN} sequential \`true\` execs x ${P.latencyReps} repetitions per side`);
    const dUp = await connectClient({ host: '127.0.0.1', port: up.port, username: 'bench', privateKey: sshd.clientKey }, null);
    const gUp = await connectClient(
      { host: '127.0.0.1', port: gwFull.sshPort, username: 'bench-up', tryKeyboard: true, authHandler: ['keyboard-interactive'] },
      await gwFull.token('bench-agent', ['agents'], 3600),
    );
    await latencyPair(dUp, gUp, 20);
    const upReps: { d50: number; d99: number; g50: number; g99: number }[] = [];
    for (let rep = 0; rep < P.latencyReps; rep++) {
      const { d, g } = await latencyPair(dUp, gUp, P.latencyN);
      upReps.push({ d50: quantile(d, 0.5), d99: quantile(d, 0.99), g50: quantile(g, 0.5), g99: quantile(g, 0.99) });
    }
    dUp.end();
    gUp.end();
    const latencySsh2Upstream = {
      execs: P.latencyN,
      directP50Ms: summarize(upReps.map((r) => r.d50)),
      directP99Ms: summarize(upReps.map((r) => r.d99)),
      gatewayP50Ms: summarize(upReps.map((r) => r.g50)),
      gatewayP99Ms: summarize(upReps.map((r) => r.g99)),
      addedP50Ms: round(median(upReps.map((r) => r.g50 - r.d50)), 3),
      addedP99Ms: round(median(upReps.map((r) => r.g99 - r.d99)), 3),
      addedP50Spread: summarize(upReps.map((r) => r.g50 - r.d50)),
      addedP99Spread: summarize(upReps.map((r) => r.g99 - r.d99)),
    };
    log(`latency (ssh2 upstream): added p50 ${latencySsh2Upstream.addedP50Ms} ms, p99 ${latencySsh2Upstream.addedP99Ms} ms`);

    // 3. Connection set-up: new OpenSSH connection + auth + `true`, alternating sides.
    log(`set-up: ${P.setupN} x \`ssh … true\` per side, alternating`);
    const gSetupEp = await gwEp(gwFull);
    const ds: number[] = [];
    const gs: number[] = [];
    await ssh(direct, [], 'true');
    await ssh(gSetupEp, [], 'true');
    for (let i = 0; i < P.setupN; i++) {
      const d = await ssh(direct, [], 'true', 30_000);
      const g = await ssh(gSetupEp, [], 'true', 30_000);
      if (d.code !== 0 || g.code !== 0) throw new Error(`set-up run failed: direct ${d.code} ${d.stderr.trim()} / gateway ${g.code} ${g.stderr.trim()}`);
      ds.push(d.ms);
      gs.push(g.ms);
    }
    const setup = {
      runs: P.setupN,
      directMs: summarize(ds),
      gatewayMs: summarize(gs),
      ratio: round(median(gs) / median(ds)),
    };
    log(`set-up: direct ${setup.directMs.median.toFixed(1)} ms, gateway ${setup.gatewayMs.median.toFixed(1)} ms, ratio ${setup.ratio}`);

    // 4. Concurrency: agents through the gateway (masking + recording on) to the ssh2 upstream,
    //    and the same agents directly to that upstream as the baseline.
    const concurrency: (LoadResult & { directP50Ms: number; directP99Ms: number; directErrors: number; directPerSecondP99Ms: number[]; directCpu: LoadResult['cpu'] })[] = [];
    const upKey = sshd.clientKey;
    for (const n of P.sessions) {
      log(`concurrency: ${n} sessions x ${P.seconds} s, direct to the ssh2 upstream`);
      const d = await runLoad({
        sessions: n,
        seconds: P.seconds,
        command: 'echo tick',
        pid: null,
        upstreamPid: up!.proc.pid ?? null,
        connect: () => connectClient({ host: '127.0.0.1', port: up!.port, username: 'bench', privateKey: upKey }, null),
      });
      log(`concurrency: ${n} sessions x ${P.seconds} s, through the gateway`);
      const token = await gwFull.token('bench-agent', ['agents'], 3600);
      const g = await runLoad({
        sessions: n,
        seconds: P.seconds,
        command: 'echo tick',
        pid: gwFull.proc.pid!,
        upstreamPid: up!.proc.pid ?? null,
        connect: () => connectClient({ host: '127.0.0.1', port: gwFull.sshPort, username: 'bench-up', tryKeyboard: true, authHandler: ['keyboard-interactive'] }, token),
      });
      log(`  direct p99 ${d.p99Ms} ms (${d.errors} errors); gateway p99 ${g.p99Ms} ms, ${g.errors} errors, RSS ${g.rssMb} MB, idle ${g.idleSessionKb} kB/session`);
      log(`  CPU ms per command: gateway ${g.cpu.measuredMsPerCommand} (main thread ${g.cpu.measuredMainThreadMsPerCommand}), upstream ${g.cpu.upstreamMsPerCommand}, agents ${g.cpu.agentsMsPerCommand}; machine ${g.cpu.machineBusyPct} % busy (direct: upstream ${d.cpu.upstreamMsPerCommand}, agents ${d.cpu.agentsMsPerCommand})`);
      concurrency.push({ ...g, directP50Ms: d.p50Ms, directP99Ms: d.p99Ms, directErrors: d.errors, directPerSecondP99Ms: d.perSecondP99Ms, directCpu: d.cpu });
    }

    // 5. Components (written by their owners; a missing one is reported as null).
    const component = async <T>(name: string, file: string, fn: string): Promise<T | null> => {
      try {
        log(`component: ${name}`);
        const mod = (await import(file)) as Record<string, (o: { quick: boolean }) => Promise<T>>;
        return await mod[fn]!({ quick });
      } catch (err) {
        log(`component ${name} unavailable: ${(err as Error).message}`);
        return null;
      }
    };
    const policy = await component<{ uncachedPerSec: number; cachedPerSec: number; worstCaseMs: number }>('policy', './policy.js', 'runPolicyBench');
    const mask = await component<{ withSecretsMBps: number; withoutSecretsMBps: number }>('mask', './mask.js', 'runMaskBench');
    const audit = await component<{ appendsPerSec: number; verifyEventsPerSec: number }>('audit', './audit.js', 'runAuditBench');

    const opensshVersion = spawnSync('ssh', ['-V'], { encoding: 'utf8' }).stderr.trim() || 'unknown';
    const results = {
      quick,
      date: new Date().toISOString(),
      durationSeconds: Math.round((Date.now() - started) / 1000),
      machine: { cores: os.cpus().length, cpu: os.cpus()[0]?.model ?? 'unknown', memoryGb: round(os.totalmem() / 2 ** 30, 1), node: process.version, openssh: opensshVersion, platform: `${os.platform()} ${os.release()}` },
      throughput,
      latency,
      latencySsh2Upstream,
      setup,
      concurrencyUpstream: 'lightweight ssh2 server (bench/ssh2-upstream.ts), one process; gateway with masking and recording on',
      concurrency: concurrency.map((c) => ({
        sessions: c.sessions,
        seconds: c.seconds,
        commands: c.commands,
        errors: c.errors,
        errorSamples: c.errorSamples,
        p50Ms: c.p50Ms,
        p99Ms: c.p99Ms,
        maxMs: c.maxMs,
        perSecondP99Ms: c.perSecondP99Ms,
        directPerSecondP99Ms: c.directPerSecondP99Ms,
        rssMb: c.rssMb,
        idleSessionKb: c.idleSessionKb,
        connectSeconds: c.connectSeconds,
        directP50Ms: c.directP50Ms,
        directP99Ms: c.directP99Ms,
        directErrors: c.directErrors,
        cpu: {
          gatewayMsPerCommand: c.cpu.measuredMsPerCommand,
          gatewayMainThreadMsPerCommand: c.cpu.measuredMainThreadMsPerCommand,
          upstreamMsPerCommand: c.cpu.upstreamMsPerCommand,
          agentsMsPerCommand: c.cpu.agentsMsPerCommand,
          machineBusyPct: c.cpu.machineBusyPct,
          direct: { upstreamMsPerCommand: c.directCpu.upstreamMsPerCommand, agentsMsPerCommand: c.directCpu.agentsMsPerCommand, machineBusyPct: c.directCpu.machineBusyPct },
        },
      })),
      idleSessionKb: idleSessions.kbPerSession,
      idleSessions,
      maskMBps: mask ? round(mask.withSecretsMBps, 1) : null,
      maskWithoutSecretsMBps: mask ? round(mask.withoutSecretsMBps, 1) : null,
      policyDecisionsPerSec: policy ? Math.round(policy.uncachedPerSec) : null,
      policyCachedDecisionsPerSec: policy ? Math.round(policy.cachedPerSec) : null,
      policyWorstCaseMs: policy ? round(policy.worstCaseMs, 2) : null,
      auditAppendsPerSec: audit ? Math.round(audit.appendsPerSec) : null,
      auditVerifyEventsPerSec: audit ? Math.round(audit.verifyEventsPerSec) : null,
    };
    mkdirSync(benchDir, { recursive: true });
    writeFileSync(path.join(benchDir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
    writeFileSync(
      path.join(benchDir, 'latency-concurrency.svg'),
      lineChart(`Command latency vs concurrent sessions${quick ? ' (quick run)' : ''}`, 'concurrent sessions (1 command/s each)', 'latency (ms)', [
        { name: 'gateway p99', color: '#c0392b', points: concurrency.map((c) => ({ x: c.sessions, y: c.p99Ms })) },
        { name: 'gateway p50', color: '#e67e22', points: concurrency.map((c) => ({ x: c.sessions, y: c.p50Ms })) },
        { name: 'direct p99', color: '#2c3e50', dashed: true, points: concurrency.map((c) => ({ x: c.sessions, y: c.directP99Ms })) },
        { name: 'direct p50', color: '#7f8c8d', dashed: true, points: concurrency.map((c) => ({ x: c.sessions, y: c.directP50Ms })) },
      ]),
    );
    writeFileSync(path.join(benchDir, 'results.md'), renderMarkdown(results));
    log(`done in ${results.durationSeconds} s: bench/results.json, bench/results.md, bench/latency-concurrency.svg`);
    process.stdout.write(renderMarkdown(results));
  } finally {
    for (const gw of gws) await gw.stop().catch(() => null);
    if (up && up.proc.exitCode === null) {
      up.proc.kill('SIGTERM');
      await new Promise((r) => up!.proc.once('exit', r));
    }
    await sshd?.stop();
    t.cleanup();
  }
}

type Results = Record<string, unknown> & {
  quick: boolean;
  date: string;
  durationSeconds: number;
  machine: Record<string, unknown>;
  throughput: { bytes: number; directMBps: Summary; maskedMBps: Summary; plainMBps: Summary; ratioMasked: number; ratioPlain: number; cpu: { direct: ThroughputCpu; masked: ThroughputCpu; plain: ThroughputCpu } };
  latency: { execs: number; directP50Ms: Summary; directP99Ms: Summary; gatewayP50Ms: Summary; gatewayP99Ms: Summary; addedP50Ms: number; addedP99Ms: number; addedP50Spread: Summary; addedP99Spread: Summary };
  latencySsh2Upstream: Results['latency'];
  setup: { runs: number; directMs: Summary; gatewayMs: Summary; ratio: number };
  concurrency: (Omit<LoadResult, 'cpu'> & {
    directP50Ms: number;
    directP99Ms: number;
    directErrors: number;
    directPerSecondP99Ms: number[];
    cpu: {
      gatewayMsPerCommand: number | null;
      gatewayMainThreadMsPerCommand: number | null;
      upstreamMsPerCommand: number | null;
      agentsMsPerCommand: number;
      machineBusyPct: number;
      direct: { upstreamMsPerCommand: number | null; agentsMsPerCommand: number; machineBusyPct: number };
    };
  })[];
  idleSessionKb: number | null;
  idleSessions: { sessions: number; kbPerSession: number; beforeMb: number; afterMb: number };
  maskMBps: number | null;
  policyDecisionsPerSec: number | null;
  auditAppendsPerSec: number | null;
  auditVerifyEventsPerSec: number | null;
};

function renderMarkdown(r: Results): string {
  const s = (x: Summary, d = 1) => `${x.median.toFixed(d)} (${x.min.toFixed(d)}–${x.max.toFixed(d)})`;
  const ok = (b: boolean) => (b ? 'met' : '**not met**');
  const last = r.concurrency.at(-1);
  const lines = [
    `# shellgate benchmark results${r.quick ? ' (quick run)' : ''}`,
    '',
    `${r.date}, ${r.durationSeconds} s. Machine: ${r.machine.cores} cores (${r.machine.cpu}), ${r.machine.memoryGb} GB, Node ${r.machine.node}, ${r.machine.openssh}.`,
    'Everything on loopback; the gateway and OpenSSH measured side by side in the same run. Values are medians of repetitions with (min–max) spread.',
    'Method: docs/benchmarks.md. Ratios are what count; absolute numbers are context for this machine only.',
    '',
    '## Summary against the goals (issue 9)',
    '',
    '| measure | result | goal | |',
    '| --- | --- | --- | --- |',
    `| throughput, masking + recording | ${r.throughput.ratioMasked}× direct | ≥ 0.6× | ${ok(r.throughput.ratioMasked >= 0.6)} |`,
    `| throughput, both off | ${r.throughput.ratioPlain}× direct | ≥ 0.8× | ${ok(r.throughput.ratioPlain >= 0.8)} |`,
    `| added latency per command, p50 | ${r.latency.addedP50Ms.toFixed(2)} ms | ≤ 3 ms | ${ok(r.latency.addedP50Ms <= 3)} |`,
    `| added latency per command, p99 | ${r.latency.addedP99Ms.toFixed(2)} ms | ≤ 10 ms | ${ok(r.latency.addedP99Ms <= 10)} |`,
    `| (same, against the ssh2 upstream: p50 / p99) | ${r.latencySsh2Upstream.addedP50Ms.toFixed(2)} / ${r.latencySsh2Upstream.addedP99Ms.toFixed(2)} ms | ≤ 3 / ≤ 10 ms | ${ok(r.latencySsh2Upstream.addedP50Ms <= 3 && r.latencySsh2Upstream.addedP99Ms <= 10)} |`,
    `| connection set-up | ${r.setup.ratio}× direct | ≤ 1.2× | ${ok(r.setup.ratio <= 1.2)} |`,
    last
      ? `| concurrency at ${last.sessions} sessions | ${last.errors} errors, p99 ${last.p99Ms} ms, RSS ${last.rssMb} MB | 0 errors, p99 ≤ 100 ms at 1,000 | ${ok(last.errors === 0 && last.p99Ms <= 100)}${last.sessions < 1000 ? ' (quick run: fewer sessions)' : ''} |`
      : '',
    `| memory per idle session | ${r.idleSessionKb ?? 'n/a'} kB (${r.idleSessions.sessions} sessions: RSS ${r.idleSessions.beforeMb} → ${r.idleSessions.afterMb} MB) | ≤ 1,024 kB | ${r.idleSessionKb === null ? 'n/a' : ok(r.idleSessionKb <= 1024)} |`,
    '',
    '## Bulk throughput',
    '',
    `${(r.throughput.bytes / 1e6).toFixed(0)} MB of base64 text (\`cat\` of a file of base64 of random data) through one exec, OpenSSH \`ssh\` over a ControlMaster connection, counted by \`wc -c\`.`,
    '',
    '| path | MB/s | ratio to direct |',
    '| --- | --- | --- |',
    `| direct OpenSSH | ${s(r.throughput.directMBps)} | 1 |`,
    `| gateway, masking + recording | ${s(r.throughput.maskedMBps)} | ${r.throughput.ratioMasked} |`,
    `| gateway, both off | ${s(r.throughput.plainMBps)} | ${r.throughput.ratioPlain} |`,
    '',
    'CPU per MB moved (user + system, summed over the repetitions). "Machine" is every process on all cores (sshd, the gateway, `ssh`, `cat`, `wc`); the CPU-bound ratio is what the path would reach against direct if the machine\'s cores were the only limit (all cores busy at its CPU per MB, over direct\'s MB/s).',
    '',
    '| path | machine CPU ms/MB | machine busy | gateway CPU ms/MB | its main thread ms/MB | CPU-bound ratio |',
    '| --- | --- | --- | --- | --- | --- |',
    ...(['direct', 'masked', 'plain'] as const).map((k) => {
      const c = r.throughput.cpu[k];
      return `| ${k} | ${c.machineMsPerMB} | ${c.machineBusyPct} % | ${c.gatewayMsPerMB ?? '–'} | ${c.gatewayMainThreadMsPerMB ?? '–'} | ${c.cpuBoundRatio} |`;
    }),
    '',
    '## Per-command latency',
    '',
    `${r.latency.execs} sequential \`true\` execs on one persistent connection (ssh2 Client), ${r.latency.directP50Ms.n} repetitions per side.`,
    '',
    '| path | p50 ms | p99 ms |',
    '| --- | --- | --- |',
    `| direct OpenSSH | ${s(r.latency.directP50Ms, 2)} | ${s(r.latency.directP99Ms, 2)} |`,
    `| gateway | ${s(r.latency.gatewayP50Ms, 2)} | ${s(r.latency.gatewayP99Ms, 2)} |`,
    `| added by the gateway | ${s(r.latency.addedP50Spread, 2)} | ${s(r.latency.addedP99Spread, 2)} |`,
    '',
    'The same against the lightweight ssh2 upstream (no fork or shell per exec, so what remains is what the gateway adds: policy decision, durable audit appends, recording, the second SSH hop):',
    '',
    '| path | p50 ms | p99 ms |',
    '| --- | --- | --- |',
    `| direct to the ssh2 upstream | ${s(r.latencySsh2Upstream.directP50Ms, 2)} | ${s(r.latencySsh2Upstream.directP99Ms, 2)} |`,
    `| gateway → ssh2 upstream | ${s(r.latencySsh2Upstream.gatewayP50Ms, 2)} | ${s(r.latencySsh2Upstream.gatewayP99Ms, 2)} |`,
    `| added by the gateway | ${s(r.latencySsh2Upstream.addedP50Spread, 2)} | ${s(r.latencySsh2Upstream.addedP99Spread, 2)} |`,
    '',
    '## Connection set-up',
    '',
    `New connection + authentication + \`true\` with OpenSSH \`ssh\` (askpass answering the token prompt for the gateway), ${r.setup.runs} runs per side, alternating.`,
    '',
    '| path | ms |',
    '| --- | --- |',
    `| direct OpenSSH (public key) | ${s(r.setup.directMs)} |`,
    `| gateway (OIDC token) | ${s(r.setup.gatewayMs)} |`,
    `| ratio | ${r.setup.ratio} |`,
    '',
    '## Concurrency',
    '',
    `Each agent connection (ssh2 Client, all in the bench process) runs \`echo tick\` once a second for ${r.concurrency[0]?.seconds ?? 0} s. Upstream: ${String(r.concurrencyUpstream)}. "direct" = the same agents connected straight to that upstream.`,
    '',
    '![latency against concurrency](latency-concurrency.svg)',
    '',
    '| sessions | commands | errors | gateway p50 / p99 / max ms | direct p50 / p99 ms | gateway peak RSS MB | idle kB/session (noisy at this level) | connect s |',
    '| --- | --- | --- | --- | --- | --- | --- | --- |',
    ...r.concurrency.map(
      (c) =>
        `| ${c.sessions} | ${c.commands} | ${c.errors}${c.errorSamples.length ? ' (' + c.errorSamples.slice(0, 2).join('; ') + ')' : ''} | ${c.p50Ms} / ${c.p99Ms} / ${c.maxMs} | ${c.directP50Ms} / ${c.directP99Ms} | ${c.rssMb} | ${c.idleSessionKb} | ${c.connectSeconds} |`,
    ),
    '',
    `Where the cores went while the commands ran (CPU ms per command, user + system, all threads; "machine" is the share of all ${r.machine.cores} cores busy). At n sessions each running a command a second, the machine has ${r.machine.cores} × 1000 / n ms of CPU per command in all.`,
    '',
    '| sessions | gateway (its main thread) | upstream | agents (bench process) | machine busy | direct: upstream / agents / machine busy |',
    '| --- | --- | --- | --- | --- | --- |',
    ...r.concurrency.map(
      (c) =>
        `| ${c.sessions} | ${c.cpu.gatewayMsPerCommand} (${c.cpu.gatewayMainThreadMsPerCommand ?? '–'}) | ${c.cpu.upstreamMsPerCommand} | ${c.cpu.agentsMsPerCommand} | ${c.cpu.machineBusyPct} % | ${c.cpu.direct.upstreamMsPerCommand} / ${c.cpu.direct.agentsMsPerCommand} / ${c.cpu.direct.machineBusyPct} % |`,
    ),
    '',
    'Where in the phase the tail is: the p99 of the commands due in each second (the k-th command of every session), for the first 10 seconds, then the median and the highest of the per-second p99 over the rest. Context only: the goal is the p99 of the whole phase, above.',
    '',
    '| sessions | gateway, first 10 s (ms) | gateway, rest: median / max | direct, first 10 s | direct, rest: median / max |',
    '| --- | --- | --- | --- | --- |',
    ...r.concurrency.map((c) => `| ${c.sessions} | ${bySecond(c.perSecondP99Ms)} | ${bySecond(c.directPerSecondP99Ms)} |`),
    '',
    '## Components',
    '',
    '| measure | value |',
    '| --- | --- |',
    `| policy decisions/s (uncached / cached) | ${r.policyDecisionsPerSec ?? 'n/a'} / ${String(r.policyCachedDecisionsPerSec ?? 'n/a')} |`,
    `| masking MB/s (with secrets / without) | ${r.maskMBps ?? 'n/a'} / ${String(r.maskWithoutSecretsMBps ?? 'n/a')} |`,
    `| durable audit appends/s | ${r.auditAppendsPerSec ?? 'n/a'} |`,
    `| audit verification events/s | ${r.auditVerifyEventsPerSec ?? 'n/a'} |`,
    '',
  ];
  return lines.join('\n');
}

await main().catch((err: Error) => {
  process.stderr.write(`bench failed: ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
