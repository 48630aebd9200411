/**
 * A persistent agent connection's finished commands leave nothing reachable: their channels,
 * streams, maskers and recorders are garbage once each command ends, however many commands the
 * connection runs. (A promise reaction on the connection's close kept each one alive for as long
 * as the connection lasted: ~16 kB of heap per command, 148 MB after 8,000 commands.)
 *
 * Checked on the gateway process's own heap: a heap snapshot (which collects garbage first)
 * taken on SIGUSR2 through Node's --heapsnapshot-signal, counted by constructor name.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { startGateway } from '../helpers/gateway.js';
import { connectAgent, execOn } from '../helpers/ssh2-agent.js';
import { tempDir } from '../helpers/tmp.js';
import { until } from './helpers.js';

/** Objects per constructor name in a V8 heap snapshot, for the names asked. */
function countObjects(file: string, names: string[]): Record<string, number> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const { node_fields: fields, node_types: [types] } = snap.snapshot.meta;
  const width = fields.length;
  const iType = fields.indexOf('type');
  const iName = fields.indexOf('name');
  const counts: Record<string, number> = Object.fromEntries(names.map((n) => [n, 0]));
  for (let i = 0; i < snap.nodes.length; i += width) {
    if (types[snap.nodes[i + iType]!] !== 'object') continue;
    const name = snap.strings[snap.nodes[i + iName]!]!;
    if (name in counts) counts[name]! += 1;
  }
  return counts;
}

test('a persistent connection running 150 commands keeps none of them in memory', { timeout: 120_000 }, async (t) => {
  const snaps = tempDir('shellgate-heap-');
  const gw = await startGateway({ env: { NODE_OPTIONS: `--heapsnapshot-signal=SIGUSR2 --diagnostic-dir=${snaps.dir}` } });
  t.after(async () => {
    await gw.stop();
    snaps.cleanup();
  });
  const agent = await connectAgent(gw.sshPort, 'local', await gw.token());
  t.after(() => agent.end());
  const N = 150;
  for (let i = 0; i < N; i++) {
    const r = await execOn(agent, `echo run-${i}`);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `run-${i}\n`);
  }
  // The last command's result is logged after its exit status: let the gateway settle.
  assert.ok(await until(() => gw.logs.filter((l) => l.msg === 'command finished').length >= N, 10_000), 'every result logged');
  gw.proc.kill('SIGUSR2');
  const file = () => readdirSync(snaps.dir).find((f) => f.endsWith('.heapsnapshot'));
  // Written synchronously by the gateway; complete once its size stops changing.
  let last = -1;
  assert.ok(
    await until(() => {
      const f = file();
      if (!f) return false;
      const size = statSync(path.join(snaps.dir, f)).size;
      const done = size > 0 && size === last;
      last = size;
      return done;
    }, 60_000, 500),
    'no heap snapshot written',
  );
  const counts = countObjects(path.join(snaps.dir, file()!), ['Recorder', 'MaskStream', 'RecordTap', 'ServerStderr']);
  // At most the objects of one command may still be on their way out; none of the 150.
  for (const [name, n] of Object.entries(counts)) assert.ok(n <= 2, `${n} ${name} objects still reachable after ${N} finished commands`);
  // The connection still works afterwards.
  assert.equal((await execOn(agent, 'echo after')).stdout, 'after\n');
});
