import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { startGateway, TEST_POLICY } from '../helpers/gateway.js';
import { connectAgent, execOn } from '../helpers/ssh2-agent.js';

test('SIGHUP reloads policies without dropping sessions; an invalid policy keeps the old one', async () => {
  const gw = await startGateway();
  try {
    const agent = await connectAgent(gw.sshPort, 'local', await gw.token());
    assert.equal((await execOn(agent, 'echo before')).code, 0);
    const running = execOn(agent, "sh -c 'sleep 1; echo finished'");
    await new Promise((r) => setTimeout(r, 300));

    const stricter = TEST_POLICY.replace('  - id: no-destructive\n    decision: deny\n    match: [', '  - id: no-destructive\n    decision: deny\n    match: ["echo", ');
    assert.notEqual(stricter, TEST_POLICY);
    writeFileSync(path.join(gw.dir, 'policies', 'test.yaml'), stricter);
    gw.proc.kill('SIGHUP');
    await gw.waitForLog((l) => l.msg === 'policies reloaded');

    const after = await execOn(agent, 'echo after');
    assert.equal(after.code, 126);
    assert.match(after.stderr, /denied by rule no-destructive/);
    const r = await running;
    assert.equal(r.code, 0, 'the running command was not dropped');
    assert.equal(r.stdout, 'finished\n');

    writeFileSync(path.join(gw.dir, 'policies', 'test.yaml'), 'version: 1\nrules:\n  - id: broken\n    decision: maybe\n');
    gw.proc.kill('SIGHUP');
    const failed = await gw.waitForLog((l) => l.msg === 'policy reload failed: keeping the previous policies');
    assert.match(String(failed.err), /test\.yaml/);
    assert.equal((await execOn(agent, 'echo still')).code, 126, 'the previous (stricter) policy is still in force');
    assert.equal((await execOn(agent, 'cat /dev/null')).code, 0);
    agent.end();
  } finally {
    await gw.stop();
  }
});
