import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import Database from 'better-sqlite3';
import { startSshd, type SshdHandle } from '../helpers/sshd.js';
import { startGateway, type GatewayHandle } from '../helpers/gateway.js';
import type { Client } from 'ssh2';
import { connectAgent, execOn } from '../helpers/ssh2-agent.js';
import { startProbeUpstream, type ProbeUpstream } from '../helpers/probe-upstream.js';

/** Established TCP connections whose local port is `port` (the sshd side), from /proc/net/tcp. */
function establishedTo(port: number): number {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  return readFileSync('/proc/net/tcp', 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => {
      const f = l.trim().split(/\s+/);
      return f[1]?.endsWith(':' + hex) && f[3] === '01';
    }).length;
}

test('upstream connections are pooled (at most maxChannels each) and closed when idle', async () => {
  const sshd = await startSshd();
  const gw = await startGateway({ sshd, topYaml: 'limits:\n  upstreamIdle: 1500ms\n  maxChannelsPerConnection: 20\n' });
  try {
    const agent = await connectAgent(gw.sshPort, 'web-1', await gw.token());
    // Three channels at once: one upstream connection.
    const three = [1, 2, 3].map(() => execOn(agent, 'sleep 1'));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(establishedTo(sshd.port), 1);
    await Promise.all(three);
    // Twelve at once with maxChannels 10 (the default): two upstream connections.
    const twelve = Array.from({ length: 12 }, () => execOn(agent, 'sleep 1'));
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(establishedTo(sshd.port), 2);
    const res = await Promise.all(twelve);
    assert.ok(res.every((r) => r.code === 0), JSON.stringify(res.filter((r) => r.code !== 0)));
    // Idle: closed after upstreamIdle.
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal(establishedTo(sshd.port), 0);
    // And a new command reconnects transparently.
    assert.equal((await execOn(agent, 'echo again')).stdout, 'again\n');
    agent.end();
  } finally {
    await gw.stop();
    await sshd.stop();
  }
});

test('an agent logging in opens the upstream connection of its target before any command (one per target), which then idles out', async () => {
  const sshd = await startSshd();
  const gw = await startGateway({ sshd, topYaml: 'limits:\n  upstreamIdle: 1500ms\n' });
  const until = async (want: number, ms: number) => {
    const end = Date.now() + ms;
    while (establishedTo(sshd.port) !== want && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    return establishedTo(sshd.port);
  };
  try {
    assert.equal(establishedTo(sshd.port), 0);
    const agent = await connectAgent(gw.sshPort, 'web-1', await gw.token());
    assert.equal(await until(1, 5000), 1, 'no upstream connection after the login');
    // Not a command ran: the log has the session and nothing else of it.
    assert.equal(gw.logs.filter((l) => l.msg === 'command allowed').length, 0);
    // A second login to the same target finds it and opens none.
    const second = await connectAgent(gw.sshPort, 'web-1', await gw.token());
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(establishedTo(sshd.port), 1);
    // The first command runs on it.
    assert.equal((await execOn(agent, 'echo warm')).stdout, 'warm\n');
    assert.equal(establishedTo(sshd.port), 1);
    // Idle: closed after upstreamIdle, though the agents stay connected; a command reconnects.
    assert.equal(await until(0, 5000), 0, 'the warm connection did not idle out');
    assert.equal((await execOn(second, 'echo again')).stdout, 'again\n');
    agent.end();
    second.end();
  } finally {
    await gw.stop();
    await sshd.stop();
  }
});

/**
 * A loopback TCP relay to `port` that holds the connections `hold(nth)` picks (accepted,
 * nothing forwarded) until `release()`: upstream handshakes that take as long as we like.
 */
async function holdingRelay(port: number, hold: (nth: number) => boolean) {
  let n = 0;
  let open = 0;
  let release!: () => void;
  const released = new Promise<void>((r) => (release = r));
  const server = net.createServer((sock) => {
    const nth = ++n;
    open++;
    sock.once('close', () => open--);
    sock.on('error', () => undefined);
    sock.pause();
    const forward = () => {
      const up = net.connect(port, '127.0.0.1');
      up.on('error', () => sock.destroy());
      sock.on('close', () => up.destroy());
      up.on('close', () => sock.destroy());
      sock.pipe(up).pipe(sock);
      sock.resume();
    };
    if (hold(nth)) void released.then(forward);
    else forward();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted: () => n,
    /** Resolves once `count` connections have been accepted. */
    untilAccepted: async (count: number) => {
      while (n < count) await new Promise((r) => setTimeout(r, 20));
    },
    open: () => open,
    release,
    close: () => server.close(),
  };
}

/** Let every held handshake go, then stop the gateway, the relay and sshd. */
async function stopAll(relay: Awaited<ReturnType<typeof holdingRelay>>, gw: GatewayHandle, sshd: SshdHandle): Promise<void> {
  relay.release();
  await gw.stop();
  relay.close();
  await sshd.stop();
}

/** A target `name` on 127.0.0.1:`port` (the test sshd, or a relay in front of it) with its user, key and host key. */
function targetVia(name: string, port: number, sshd: SshdHandle, maxChannels: number): string {
  return `  ${name}:\n    host: 127.0.0.1\n    port: ${port}\n    user: ${sshd.user}\n    credential: web-key\n    hostKey: "${sshd.hostKeyFingerprint}"\n    policy: test\n    maxChannels: ${maxChannels}\n`;
}

test('a channel waiting for a new upstream connection takes a slot freed on a live one first', async () => {
  const sshd = await startSshd();
  const relay = await holdingRelay(sshd.port, (nth) => nth === 2);
  const gw = await startGateway({
    sshd,
    topYaml: 'limits:\n  upstreamIdle: 1500ms\n',
    extraYaml: targetVia('held', relay.port, sshd, 1),
  });
  // Never hang the suite: the held handshake is let go after 8 s at the latest.
  let heldUntilEnd = true;
  const failsafe = setTimeout(() => {
    heldUntilEnd = false;
    relay.release();
  }, 8000);
  try {
    const agent = await connectAgent(gw.sshPort, 'held', await gw.token());
    // One slot per upstream connection: A takes the first connection's.
    const a = execOn(agent, 'sleep 1');
    await relay.untilAccepted(1);
    await new Promise((r) => setTimeout(r, 300));
    // B finds no free slot: a second connection is started, and its handshake is held.
    const b = execOn(agent, 'echo b');
    await relay.untilAccepted(2);
    const rb = await b;
    const bWhileHeld = heldUntilEnd;
    assert.equal(rb.stdout, 'b\n');
    assert.equal(rb.code, 0);
    assert.equal((await a).code, 0);
    assert.ok(bWhileHeld, 'B waited for the held handshake instead of taking the slot A freed');
    assert.equal(relay.accepted(), 2);
    // The second connection comes up with nothing reserved on it and is closed when idle,
    // as is the first.
    relay.release();
    const until = Date.now() + 8000;
    while (relay.open() > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
    assert.equal(relay.open(), 0, 'idle upstream connections were not closed');
    // The target still serves commands afterwards.
    assert.equal((await execOn(agent, 'echo again')).stdout, 'again\n');
    agent.end();
  } finally {
    clearTimeout(failsafe);
    await stopAll(relay, gw, sshd);
  }
});

test('a connection that comes up with a slot to spare serves the oldest channel waiting on another handshake', async () => {
  const sshd = await startSshd();
  const relay = await holdingRelay(sshd.port, (nth) => nth === 2);
  const gw = await startGateway({
    sshd,
    extraYaml: targetVia('held', relay.port, sshd, 2),
  });
  const failsafe = setTimeout(() => relay.release(), 15_000);
  try {
    const agent = await connectAgent(gw.sshPort, 'held', await gw.token());
    // The first connection: two long commands fill it.
    let longDone = false;
    const long = Promise.all([execOn(agent, 'sleep 4'), execOn(agent, 'sleep 4')]).finally(() => (longDone = true));
    await relay.untilAccepted(1);
    await new Promise((r) => setTimeout(r, 500));
    // C and D reserve the second connection, whose handshake is held.
    const c = execOn(agent, 'echo c');
    const d = execOn(agent, 'echo d');
    await relay.untilAccepted(2);
    await new Promise((r) => setTimeout(r, 200));
    // E (long too) opens a third; it comes up with one slot to spare, which C takes at once.
    const e = execOn(agent, 'sleep 4').finally(() => (longDone = true));
    const rc = await c;
    const cWhileHeld = !longDone;
    assert.equal(rc.stdout, 'c\n');
    assert.ok(cWhileHeld, 'C waited for the held handshake or for a long command to end');
    assert.equal((await e).code, 0);
    assert.equal(relay.accepted(), 3);
    relay.release();
    assert.equal((await d).stdout, 'd\n');
    assert.ok((await long).every((r) => r.code === 0));
    agent.end();
  } finally {
    clearTimeout(failsafe);
    await stopAll(relay, gw, sshd);
  }
});

test('at most four upstream handshakes to a target at once; channels beyond wait their turn', async () => {
  const sshd = await startSshd();
  let releasedAll = false;
  const relay = await holdingRelay(sshd.port, () => !releasedAll);
  const gw = await startGateway({
    sshd,
    topYaml: 'limits:\n  maxChannelsPerConnection: 20\n',
    extraYaml: targetVia('held', relay.port, sshd, 2),
  });
  try {
    const agent = await connectAgent(gw.sshPort, 'held', await gw.token());
    // Twelve channels at once, two per upstream connection: six connections would be needed,
    // but while the handshakes hang only four are started.
    const runs = Array.from({ length: 12 }, (_, i) => execOn(agent, `echo ${i}`));
    await relay.untilAccepted(4);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(relay.accepted(), 4);
    releasedAll = true;
    relay.release();
    const res = await Promise.all(runs);
    assert.deepEqual(res.map((r) => r.stdout), Array.from({ length: 12 }, (_, i) => `${i}\n`));
    assert.ok(res.every((r) => r.code === 0));
    // Every channel was served, by the four and then by at most two more connections.
    assert.ok(relay.accepted() >= 4 && relay.accepted() <= 6, `connections: ${relay.accepted()}`);
    agent.end();
  } finally {
    await stopAll(relay, gw, sshd);
  }
});

test('a burst of 150 channels on a cold pool: all run (sshd MaxStartups is never crossed)', async () => {
  const sshd = await startSshd();
  const gw = await startGateway({ sshd, topYaml: 'limits:\n  maxChannelsPerConnection: 200\n' });
  try {
    const agent = await connectAgent(gw.sshPort, 'web-1', await gw.token());
    const res = await Promise.all(Array.from({ length: 150 }, (_, i) => execOn(agent, `echo ${i}`)));
    const bad = res.map((r, i) => ({ i, ...r })).filter((r) => r.code !== 0 || r.stdout !== `${r.i}\n`);
    assert.deepEqual(bad.slice(0, 3), [], `${bad.length} of 150 failed`);
    agent.end();
  } finally {
    await gw.stop();
    await sshd.stop();
  }
});

test('a target that is down gives a clean error and exit 255, and the session is logged', async () => {
  const sshd = await startSshd();
  const gw = await startGateway({
    sshd,
    extraYaml: targetVia('narrow', sshd.port, sshd, 1),
  });
  try {
    await sshd.stop();
    const agent = await connectAgent(gw.sshPort, 'web-1', await gw.token());
    const r = await execOn(agent, 'echo hello');
    assert.equal(r.code, 255);
    assert.match(r.stderr, /^shellgate: target web-1 unreachable: .*ECONNREFUSED.*$/m);
    assert.equal(r.stdout, '');
    agent.end();
    await gw.waitForLog((l) => l.msg === 'upstream open failed');
    // A burst beyond the handshakes allowed at once (one channel per connection): the channels
    // that waited their turn fail the same way, none hangs.
    const burst = await connectAgent(gw.sshPort, 'narrow', await gw.token());
    const rs = await Promise.all(Array.from({ length: 9 }, () => execOn(burst, 'echo hello')));
    for (const x of rs) {
      assert.equal(x.code, 255);
      assert.match(x.stderr, /^shellgate: target narrow unreachable: .*ECONNREFUSED.*$/m);
    }
    burst.end();
  } finally {
    await gw.stop();
  }
});

test('a target whose MaxSessions is below maxChannels: refused opens are tried again, fail cleanly, and warn once a minute', async () => {
  const sshd = await startSshd(['MaxSessions 2']);
  const gw = await startGateway({ sshd, extraYaml: targetVia('tight', sshd.port, sshd, 4) });
  try {
    const agent = await connectAgent(gw.sshPort, 'tight', await gw.token());
    // Two long commands take sshd's two sessions; the pool still sees two free slots of four.
    const long = [execOn(agent, 'sleep 3'), execOn(agent, 'sleep 3')];
    await gw.waitForLog((l) => l.msg === 'command allowed' && l.target === 'tight' && gw.logs.filter((m) => m.msg === 'command allowed' && m.target === 'tight').length === 2);
    await new Promise((r) => setTimeout(r, 500));
    // The third and fourth are refused by sshd on every attempt: an error, nothing ran.
    for (const word of ['third', 'fourth']) {
      const r = await execOn(agent, `echo ${word}`);
      assert.equal(r.code, 255, JSON.stringify(r));
      assert.equal(r.stdout, '');
      assert.match(r.stderr, /^shellgate: target tight refused the channel: .*$/m);
    }
    // One warn line for the eight refusals (rate-limited), naming the target and the count.
    const warns = gw.logs.filter((l) => l.level === 40 && typeof l.msg === 'string' && l.msg.startsWith('upstream refused session channels'));
    assert.equal(warns.length, 1, JSON.stringify(warns));
    assert.equal(warns[0]!.target, 'tight');
    assert.equal(warns[0]!.refused, 1);
    assert.equal(warns[0]!.maxChannels, 4);
    // Once the long commands end, the target serves commands again.
    assert.ok((await Promise.all(long)).every((r) => r.code === 0));
    assert.equal((await execOn(agent, 'echo again')).stdout, 'again\n');
    agent.end();
  } finally {
    await gw.stop();
    await sshd.stop();
  }
});

/** A target `name` on the in-process probe upstream (any key accepted; the vault's web-key is used). */
function probeTarget(name: string, probe: ProbeUpstream, extra = ''): string {
  return `  ${name}:\n    host: 127.0.0.1\n    port: ${probe.port}\n    user: probe\n    credential: web-key\n    hostKey: "${probe.fingerprint}"\n    policy: test\n${extra}`;
}

/**
 * sshd (only for the vault's key), the probe upstream, a gateway with a `probe` target on it and
 * an agent logged in to it, whose login opened channel 1 ahead; all torn down after `fn`.
 */
async function withProbe(
  opts: { topYaml?: string; target?: string; policy?: string },
  fn: (ctx: { probe: ProbeUpstream; gw: GatewayHandle; agent: Client }) => Promise<void>,
): Promise<void> {
  const sshd = await startSshd();
  const probe = await startProbeUpstream();
  const gw = await startGateway({ sshd, ...(opts.topYaml ? { topYaml: opts.topYaml } : {}), ...(opts.policy ? { policy: opts.policy } : {}), extraYaml: probeTarget('probe', probe, opts.target) });
  try {
    const agent = await connectAgent(gw.sshPort, 'probe', await gw.token());
    await probe.until((e) => e.includes('open 1'));
    try {
      await fn({ probe, gw, agent });
    } finally {
      agent.end();
    }
  } finally {
    await gw.stop();
    await probe.close();
    await sshd.stop();
  }
}

/** Hold the gateway store's write lock from this process: its commits wait (up to its 5 s busy timeout). */
function lockStore(gw: GatewayHandle): Database.Database {
  const locker = new Database(path.join(gw.dir, 'data', 'shellgate.db'));
  locker.exec('BEGIN IMMEDIATE');
  return locker;
}

/** Run `command` on the agent connection with a terminal; resolves with its exit code. */
function execWithPty(agent: Client, command: string): Promise<number | null> {
  return new Promise((resolve, reject) => {
    agent.exec(command, { pty: { term: 'xterm', rows: 24, cols: 80 } }, (err, ch) => {
      if (err) return reject(err);
      let code: number | null = null;
      ch.on('exit', (c: number | null) => (code = c));
      ch.on('close', () => resolve(code));
      ch.resume();
    });
  });
}

test('the pool keeps a session channel open ahead: a command sends only its requests on it, a new one opens, and it idles out with its connection', async () => {
  await withProbe({ topYaml: 'limits:\n  upstreamIdle: 1500ms\n' }, async ({ probe, agent }) => {
    // The login opened the connection and one channel on it, and nothing ran.
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(probe.events, ['open 1']);
    // The command's exec goes on that channel; the pool opens the next one.
    assert.equal((await execOn(agent, 'echo first')).stdout, 'first\n');
    await probe.until((e) => e.includes('open 2'));
    assert.equal(probe.events[0], 'open 1');
    assert.ok(probe.events.includes('exec 1 echo first'), probe.events.join(', '));
    // A command with a terminal: its pty request, then its exec, on the channel opened ahead.
    assert.equal(await execWithPty(agent, 'echo with-a-tty'), 0);
    const pty = probe.events.indexOf('pty 2');
    assert.ok(pty >= 0 && pty < probe.events.indexOf('exec 2 echo with-a-tty'), probe.events.join(', '));
    await probe.until((e) => e.includes('open 3'));
    // A channel the target closes meanwhile is not used: the next command opens its own.
    probe.closeIdle();
    await probe.until((e) => e.includes('close 3'));
    assert.equal((await execOn(agent, 'echo third')).stdout, 'third\n');
    assert.ok(probe.events.includes('exec 4 echo third'), probe.events.join(', '));
    assert.equal(probe.events.filter((e) => e.startsWith('exec 3')).length, 0);
    // With no command for upstreamIdle, the connection closes, the channel open ahead with it.
    await probe.until((e) => e.includes('end'), 6000);
  });
});

test('a command sent upstream only once its decision is durable, on a channel opened ahead or while the decision commits', async () => {
  await withProbe({}, async ({ probe, gw, agent }) => {
    assert.equal((await execOn(agent, 'echo first')).code, 0); // the session is logged; channel 2 is open ahead
    await probe.until((e) => e.includes('open 2'));
    // Another process holds the store's write lock: the decision's commit waits for it.
    let locker = lockStore(gw);
    try {
      let before = probe.events.length;
      const spared = execOn(agent, 'echo spared');
      await probe.until((e) => e.includes('open 3')); // the next one, opened when the command took channel 2
      await new Promise((r) => setTimeout(r, 400));
      assert.deepEqual(probe.events.slice(before), ['open 3'], 'the command reached the upstream before its decision was durable');
      locker.exec('COMMIT');
      assert.deepEqual(await spared, { code: 0, signal: null, stdout: 'spared\n', stderr: '' });
      assert.ok(probe.events.includes('exec 2 echo spared'), probe.events.join(', '));
      // Without a channel open ahead (the target closed it), the command's own opens during the commit.
      probe.closeIdle();
      await probe.until((e) => e.includes('close 3'));
      locker.close();
      locker = lockStore(gw);
      before = probe.events.length;
      const fresh = execOn(agent, 'echo fresh');
      await probe.until((e) => e.slice(before).includes('open 4'));
      await new Promise((r) => setTimeout(r, 400));
      assert.equal(probe.events.slice(before).filter((e) => e.startsWith('exec')).length, 0, probe.events.join(', '));
      locker.exec('COMMIT');
      assert.equal((await fresh).stdout, 'fresh\n');
      assert.ok(probe.events.includes('exec 4 echo fresh'), probe.events.join(', '));
    } finally {
      locker.close();
    }
  });
});

test('a guarded shell goes upstream only once its start is durable, on the channel opened ahead', async () => {
  const guarded = 'version: 1\ndefault: deny\nshell: guarded\nrules:\n  - id: inspection\n    decision: allow\n    match: ["true"]\n';
  await withProbe({ policy: guarded }, async ({ probe, gw, agent }) => {
    assert.equal((await execOn(agent, 'true')).code, 0); // the session is logged; channel 2 is open ahead
    await probe.until((e) => e.includes('open 2'));
    const locker = lockStore(gw);
    try {
      const ended = new Promise<string>((resolve, reject) => {
        agent.shell({ term: 'xterm', rows: 24, cols: 80 }, (err, ch) => {
          if (err) return reject(err);
          let out = '';
          ch.stderr.on('data', (d: Buffer) => (out += d));
          ch.on('data', (d: Buffer) => (out += d));
          ch.on('close', () => resolve(out));
        });
      });
      await new Promise((r) => setTimeout(r, 400));
      // Its terminal is requested on the channel taken (a pty runs nothing, RFC 4254 §6.2); no program.
      assert.deepEqual(probe.events.filter((e) => e.startsWith('exec')), ['exec 1 true'], 'the shell reached the upstream before its start was durable');
      assert.ok(probe.events.includes('pty 2'), probe.events.join(', '));
      locker.exec('COMMIT');
      // The probe is no bash: the shell is then refused, after its requests went on channel 2.
      assert.match(await ended, /guarded shell could not be established on target probe/);
      const pty = probe.events.indexOf('pty 2');
      const exec = probe.events.findIndex((e) => e.startsWith('exec 2 exec bash'));
      assert.ok(pty > 0 && exec > pty, probe.events.join(', '));
    } finally {
      locker.close();
    }
  });
});

test('a decision that cannot be committed: the channel taken for it is closed and its command never sent', async () => {
  await withProbe({}, async ({ probe, gw, agent }) => {
    assert.equal((await execOn(agent, 'echo first')).code, 0); // the session is logged; channel 2 is open ahead
    await probe.until((e) => e.includes('open 2'));
    const locker = lockStore(gw); // held past the store's busy timeout (5 s): the commit fails
    try {
      const r = await execOn(agent, 'echo never');
      assert.equal(r.code, 126, JSON.stringify(r));
      assert.match(r.stderr, /the audit log cannot be written: command refused/);
      await probe.until((e) => e.includes('close 2'));
      assert.deepEqual(probe.events.filter((e) => e.startsWith('exec')), ['exec 1 echo first']);
    } finally {
      locker.close(); // rolls the lock's transaction back
    }
    // The slot came back: the target still serves commands.
    assert.equal((await execOn(agent, 'echo after')).stdout, 'after\n');
  });
});

test('an exec request the upstream refuses: the agent gets an error, the channel is closed and its slot reused', async () => {
  await withProbe({ target: '    maxChannels: 1\n' }, async ({ probe, gw, agent }) => {
    probe.answer = 'refuse';
    const r = await execOn(agent, 'echo refused');
    assert.equal(r.code, 255, JSON.stringify(r));
    assert.match(r.stderr, /^shellgate: target probe refused the command: .*$/m);
    await probe.until((e) => e.includes('close 1'));
    await gw.waitForLog((l) => l.msg === 'upstream open failed');
    // One channel per connection: the next command runs on the same connection once the slot is back.
    probe.answer = 'run';
    assert.equal((await execOn(agent, 'echo served')).stdout, 'served\n');
    assert.equal(probe.events.filter((e) => e === 'end').length, 0, 'the upstream connection was dropped');
  });
});
