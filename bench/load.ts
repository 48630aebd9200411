/**
 * Concurrency load: N agent connections (ssh2 Client, all in this process), each running one
 * command per second for S seconds. Counts errors, collects per-command latencies, samples
 * the gateway's RSS, and measures the memory of idle sessions before the load starts.
 */
import { Client, type ConnectConfig } from 'ssh2';
import { cpuSeconds, machineCpu, quantile, round, rssMb, sleep, threadCpuSeconds } from './stats.js';

export interface LoadResult {
  sessions: number;
  seconds: number;
  commands: number;
  errors: number;
  /** First few error messages (for the report; never secrets: tokens are not in ssh2 errors). */
  errorSamples: string[];
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /**
   * p99 of the commands due in each second of the phase (k-th entry: each session's k-th
   * command). Context for the phase's p99, which is the goal's measure: it shows whether the
   * tail comes from the whole phase or from a few seconds of it.
   */
  perSecondP99Ms: number[];
  /** Peak RSS of the measured process during the load (MB), or null when no pid was given. */
  rssMb: number | null;
  /** (RSS with all sessions connected and idle − RSS before) ÷ sessions, in kB. */
  idleSessionKb: number | null;
  connectSeconds: number;
  /**
   * CPU used while the commands ran, per command, in ms: the measured process (the gateway),
   * the upstream, and the agents (this bench process); and how busy the whole machine was (%
   * of all its cores). Shows where the cores go when the three share one machine.
   */
  cpu: {
    measuredMsPerCommand: number | null;
    /** The measured process's main thread alone (the gateway's event loop); the rest is its other threads (audit writer, thread pool, GC). */
    measuredMainThreadMsPerCommand: number | null;
    upstreamMsPerCommand: number | null;
    agentsMsPerCommand: number;
    machineBusyPct: number;
  };
}

const CONNECT_PARALLEL = 16;
const COMMAND_TIMEOUT_MS = 10_000;

export async function connectClient(cfg: ConnectConfig, answer: string | null): Promise<Client> {
  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      client.end();
      reject(new Error('connect timeout'));
    }, 60_000);
    client.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
    client.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    if (answer !== null) client.on('keyboard-interactive', (_n, _i, _l, prompts, finish) => finish(prompts.map(() => answer)));
    client.connect({ readyTimeout: 60_000, keepaliveInterval: 0, ...cfg });
  });
  client.on('error', () => undefined);
  // As OpenSSH does for interactive use: no Nagle delay on small packets.
  client.setNoDelay(true);
  return client;
}

/** One exec on an open connection: resolves with the latency in ms, rejects on error, non-zero exit or timeout. */
export function timedExec(client: Client, command: string, timeoutMs = COMMAND_TIMEOUT_MS): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`command timed out after ${timeoutMs} ms`)), timeoutMs);
    client.exec(command, (err, ch) => {
      if (err) {
        clearTimeout(timer);
        return reject(err);
      }
      let code: number | null = null;
      let stderr = '';
      ch.on('data', () => undefined);
      ch.stderr.on('data', (d: Buffer) => {
        if (stderr.length < 300) stderr += d.toString('utf8');
      });
      ch.on('exit', (c: number | null) => (code = c));
      ch.on('close', () => {
        clearTimeout(timer);
        if (code === 0) resolve(performance.now() - t0);
        else reject(new Error(`exit status ${code}: ${stderr.trim().slice(0, 200)}`));
      });
    });
  });
}

export async function runLoad(opts: {
  sessions: number;
  seconds: number;
  connect: () => Promise<Client>;
  command: string;
  /** Process whose RSS and CPU are sampled (the gateway). */
  pid: number | null;
  /** The upstream's process, whose CPU is sampled too. */
  upstreamPid?: number | null;
}): Promise<LoadResult> {
  const errorSamples: string[] = [];
  let errors = 0;
  const fail = (err: unknown) => {
    errors++;
    if (errorSamples.length < 5) errorSamples.push(String((err as Error)?.message ?? err));
  };
  const rssBefore = opts.pid ? rssMb(opts.pid) : null;
  const clients: Client[] = [];
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONNECT_PARALLEL, opts.sessions) }, async () => {
      while (next < opts.sessions) {
        next++;
        try {
          clients.push(await opts.connect());
        } catch (err) {
          fail(err);
        }
      }
    }),
  );
  const connectSeconds = (performance.now() - t0) / 1000;
  await sleep(1500);
  const rssIdle = opts.pid ? rssMb(opts.pid) : null;
  const idleSessionKb = rssBefore !== null && rssIdle !== null && clients.length ? ((rssIdle - rssBefore) * 1024) / clients.length : null;

  let peak = rssIdle ?? 0;
  const sampler = opts.pid
    ? setInterval(() => {
        try {
          peak = Math.max(peak, rssMb(opts.pid!));
        } catch {
          /* process gone: the error count will show it */
        }
      }, 500)
    : null;
  const latencies: number[] = [];
  const bySecond: number[][] = Array.from({ length: opts.seconds }, () => []);
  const cpuAt = () => ({
    measured: opts.pid ? cpuSeconds(opts.pid) : null,
    measuredMain: opts.pid ? threadCpuSeconds(opts.pid) : null,
    upstream: opts.upstreamPid ? cpuSeconds(opts.upstreamPid) : null,
    agents: process.cpuUsage(),
    machine: machineCpu(),
  });
  const cpu0 = cpuAt();
  const start = performance.now() + 100;
  await Promise.all(
    clients.map(async (client, i) => {
      // Spread the sessions over the second so the load is steady, not a thundering herd.
      const offset = (i / clients.length) * 1000;
      for (let k = 0; k < opts.seconds; k++) {
        const due = start + offset + k * 1000;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        try {
          const ms = await timedExec(client, opts.command);
          latencies.push(ms);
          bySecond[k]!.push(ms);
        } catch (err) {
          fail(err);
        }
      }
    }),
  );
  if (sampler) clearInterval(sampler);
  const cpu1 = cpuAt();
  const perCommand = (seconds: number | null) => (seconds === null || latencies.length === 0 ? null : round((seconds * 1000) / latencies.length, 3));
  const agentsUs = process.cpuUsage(cpu0.agents);
  const used = (k: 'measured' | 'measuredMain' | 'upstream') => {
    const a = cpu0[k];
    const b = cpu1[k];
    return a !== null && b !== null ? b - a : null;
  };
  const cpu = {
    measuredMsPerCommand: perCommand(used('measured')),
    measuredMainThreadMsPerCommand: perCommand(used('measuredMain')),
    upstreamMsPerCommand: perCommand(used('upstream')),
    agentsMsPerCommand: perCommand((agentsUs.user + agentsUs.system) / 1e6) ?? NaN,
    machineBusyPct: round((100 * (cpu1.machine.busy - cpu0.machine.busy)) / Math.max(1e-9, cpu1.machine.total - cpu0.machine.total), 1),
  };
  for (const c of clients) c.end();
  await sleep(500);
  return {
    sessions: opts.sessions,
    seconds: opts.seconds,
    commands: latencies.length,
    errors,
    errorSamples,
    p50Ms: round(quantile(latencies, 0.5), 2),
    p99Ms: round(quantile(latencies, 0.99), 2),
    maxMs: round(latencies.length ? latencies.reduce((a, b) => Math.max(a, b), 0) : NaN, 2),
    perSecondP99Ms: bySecond.map((v) => round(quantile(v, 0.99), 1)),
    rssMb: opts.pid ? round(peak, 1) : null,
    idleSessionKb: idleSessionKb === null ? null : round(idleSessionKb, 1),
    connectSeconds: round(connectSeconds, 2),
    cpu,
  };
}

/** Median of three RSS samples 0.5 s apart (one sample can catch the collector mid-cycle). */
async function steadyRss(pid: number): Promise<number> {
  const v: number[] = [];
  for (let i = 0; i < 3; i++) {
    if (i) await sleep(500);
    v.push(rssMb(pid));
  }
  return quantile(v, 0.5);
}

/**
 * Memory of idle sessions: the gateway's RSS with `sessions` authenticated connections and no
 * channel, minus its RSS before, per session (kB). Run before the load, so that garbage from
 * the load phases does not shrink away in between and hide the sessions.
 */
export async function measureIdle(opts: { sessions: number; connect: () => Promise<Client>; pid: number }): Promise<{ sessions: number; kbPerSession: number; beforeMb: number; afterMb: number }> {
  await sleep(1000);
  const before = await steadyRss(opts.pid);
  const clients: Client[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(CONNECT_PARALLEL, opts.sessions) }, async () => {
      while (next < opts.sessions) {
        next++;
        clients.push(await opts.connect());
      }
    }),
  );
  await sleep(1500);
  const after = await steadyRss(opts.pid);
  for (const c of clients) c.end();
  await sleep(1000);
  return { sessions: clients.length, kbPerSession: round(((after - before) * 1024) / clients.length, 1), beforeMb: round(before, 1), afterMb: round(after, 1) };
}
