/**
 * Start `shellgate serve` for the benchmark: like test/helpers/gateway.ts, but its log lines
 * are drained unparsed once it listens (at 1,000 commands/s, parsing them in the bench
 * process would steal CPU from the agents being measured).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { GATEWAY_NODE_FLAGS } from '../src/cli/node-flags.js';
import { loadDevIssuer } from '../src/identity/dev-issuer.js';
import { writeGatewayConfig, type GatewayOptions } from '../test/helpers/gateway.js';
import { cliPath } from '../test/helpers/paths.js';

export interface BenchGateway {
  dir: string;
  sshPort: number;
  knownHostsFile: string;
  proc: ChildProcess;
  token(sub: string, groups: string[], ttlSeconds: number): Promise<string>;
  stop(): Promise<void>;
}

export async function launchGateway(opts: GatewayOptions): Promise<BenchGateway> {
  const w = writeGatewayConfig(opts);
  if (opts.sshd) {
    const add = spawn(process.execPath, [cliPath, 'vault', 'add', 'web-key', '--key', opts.sshd.clientKeyFile, '--config', w.configFile], { env: w.env, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    add.stderr!.on('data', (d) => (err += d));
    const code = await new Promise((r) => add.once('exit', r));
    if (code !== 0) throw new Error(`vault add failed: ${err}`);
  }
  // The gateway runs with the flags it ships with (src/cli/node-flags.ts). BENCH_GATEWAY_NODE_ARGS
  // (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") adds to them, later flags winning; Node refuses
  // --cpu-prof in NODE_OPTIONS.
  const nodeArgs = [...GATEWAY_NODE_FLAGS, ...(process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)];
  const proc = spawn(process.execPath, [...nodeArgs, cliPath, 'serve', '--config', w.configFile], { env: w.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr!.on('data', (d: Buffer) => {
    if (stderr.length < 8192) stderr += d.toString('utf8');
  });
  const rl = createInterface({ input: proc.stdout! });
  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not listen in 20 s: ${stderr.slice(-1000)}`)), 20_000);
    rl.on('line', (line) => {
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        if (o.msg === 'listening') {
          clearTimeout(timer);
          resolve(o);
        }
      } catch {
        /* not JSON */
      }
    });
    proc.once('exit', (c) => reject(new Error(`gateway exited (${c}): ${stderr.slice(-1000)}`)));
  });
  rl.close();
  proc.stdout!.resume();
  const sshPort = Number(String(listening.ssh).split(':').pop());
  const hostKeyPub = readFileSync(path.join(w.dir, 'data', 'host_ed25519.pub'), 'utf8').trim();
  const knownHostsFile = path.join(w.dir, 'known_hosts');
  writeFileSync(knownHostsFile, `[127.0.0.1]:${sshPort} ${hostKeyPub.split(/\s+/).slice(0, 2).join(' ')}\n`);
  const issuer = await loadDevIssuer(path.join(w.dir, 'data'), { create: false });
  return {
    dir: w.dir,
    sshPort,
    knownHostsFile,
    proc,
    token: (sub, groups, ttlSeconds) => issuer.mint({ sub, groups, ttlSeconds }),
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      w.cleanup();
    },
  };
}
