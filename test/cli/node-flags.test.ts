import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { GATEWAY_NODE_FLAGS } from '../../src/cli/node-flags.js';
import { cliPath, repoRoot } from '../helpers/paths.js';
import { tempDir } from '../helpers/tmp.js';

// Node refuses these V8 flags in NODE_OPTIONS, so each way of starting the gateway passes them
// itself; a launch path that drops them runs the slower GC regime silently.

test('node flags: the shebang, `npm start` and the Dockerfile entry point pass every gateway flag', () => {
  assert.ok(GATEWAY_NODE_FLAGS.length > 0);
  const shebang = readFileSync(cliPath, 'utf8').split('\n')[0]!;
  assert.equal(shebang, `#!/usr/bin/env -S node ${GATEWAY_NODE_FLAGS.join(' ')}`);

  const pkg = JSON.parse(readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
  assert.equal(pkg.scripts.start, `node ${GATEWAY_NODE_FLAGS.join(' ')} bin/shellgate.js demo`);

  const docker = readFileSync(path.join(repoRoot, 'Dockerfile'), 'utf8');
  const entry = /^ENTRYPOINT (\[.*\])$/m.exec(docker);
  assert.ok(entry, 'the Dockerfile has an exec-form ENTRYPOINT');
  const argv = JSON.parse(entry[1]!) as string[];
  const node = argv.indexOf('node');
  assert.deepEqual(argv.slice(node + 1, node + 1 + GATEWAY_NODE_FLAGS.length), [...GATEWAY_NODE_FLAGS]);
  assert.equal(argv[node + 1 + GATEWAY_NODE_FLAGS.length], '/app/bin/shellgate.js');
});

test('node flags: bin/shellgate.js run as a program gets them (env -S splits the shebang)', () => {
  const t = tempDir('shellgate-flags-');
  try {
    // A module preloaded through NODE_OPTIONS (--import is allowed there) reports the flags
    // the process was started with; the CLI itself runs as usual.
    const out = path.join(t.dir, 'exec-argv.json');
    const probe = path.join(t.dir, 'probe.mjs');
    writeFileSync(probe, `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(out)}, JSON.stringify(process.execArgv));\n`);
    const r = spawnSync(cliPath, ['--help'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: `--import=${probe}` } });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /usage:/);
    const execArgv = JSON.parse(readFileSync(out, 'utf8')) as string[];
    for (const f of GATEWAY_NODE_FLAGS) assert.ok(execArgv.includes(f), `${f} in ${JSON.stringify(execArgv)}`);
  } finally {
    t.cleanup();
  }
});
