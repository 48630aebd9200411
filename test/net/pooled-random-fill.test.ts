import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pooledRandomFill } from '../../src/net/pooled-random-fill.js';

const run = promisify(execFile);

test('fills exactly the requested range, and hands out no byte twice', () => {
  const fill = pooledRandomFill(256);
  const seen = new Set<string>();
  for (let i = 0; i < 200; i++) {
    const buf = Buffer.alloc(40, 0xaa);
    assert.equal(fill(buf, 5, 16), buf);
    assert.deepEqual(buf.subarray(0, 5), Buffer.alloc(5, 0xaa), 'bytes before the range untouched');
    assert.deepEqual(buf.subarray(21), Buffer.alloc(19, 0xaa), 'bytes after the range untouched');
    const drawn = buf.subarray(5, 21).toString('hex');
    assert.ok(!seen.has(drawn), 'a 16-byte draw repeated: the pool handed bytes out twice');
    seen.add(drawn);
  }
  const { pooled, refills } = fill.stats();
  assert.equal(pooled, 200);
  // 200 draws of 16 bytes from a 256-byte pool: 16 draws per fill.
  assert.equal(refills, Math.ceil(200 / 16));
});

test('defaults like randomFillSync: the whole buffer, or from offset to the end', () => {
  const fill = pooledRandomFill();
  const whole = Buffer.alloc(64);
  fill(whole);
  assert.ok(whole.some((b) => b !== 0));
  const tail = Buffer.alloc(64);
  fill(tail, 60);
  assert.deepEqual(tail.subarray(0, 60), Buffer.alloc(60));
  const zero = Buffer.alloc(8);
  fill(zero, 3, 0);
  assert.deepEqual(zero, Buffer.alloc(8));
});

test('anything it does not serve goes to Node, which validates and throws the same errors', () => {
  const fill = pooledRandomFill();
  const big = Buffer.alloc(4096);
  fill(big);
  assert.ok(big.subarray(2048).some((b) => b !== 0), 'large request filled');
  const words = new Uint32Array(8);
  fill(words);
  assert.ok(words.some((w) => w !== 0), 'non-byte view filled');
  assert.equal(fill.stats().pooled, 0, 'neither came from the pool');
  const outcome = (f: () => unknown) => {
    try {
      f();
      return 'no error';
    } catch (e) {
      return (e as NodeJS.ErrnoException).code ?? String(e);
    }
  };
  for (const [off, size] of [[9, undefined], [4, 5], [-1, undefined], [0, 1.5], [Number.NaN, undefined]] as [number, number | undefined][]) {
    assert.equal(outcome(() => fill(Buffer.alloc(8), off, size)), outcome(() => randomFillSync(Buffer.alloc(8), off, size)), `offset ${off}, size ${size}`);
  }
  assert.equal(outcome(() => fill(Buffer.alloc(8), 9)), 'ERR_OUT_OF_RANGE');
  assert.throws(() => fill('text' as unknown as Buffer), TypeError);
  assert.throws(() => pooledRandomFill(16), TypeError);
});

test('the gateway\'s ssh2 draws its padding from the pool; every other module keeps Node\'s function', async () => {
  // A fresh process: here, ssh2 may already be loaded by the test helpers.
  const mod = new URL('../../src/net/ssh2.js', import.meta.url).href;
  const script = `
    import crypto from 'node:crypto';
    const before = crypto.randomFillSync;
    const { default: ssh2, ssh2Random } = await import(${JSON.stringify(mod)});
    if (crypto.randomFillSync !== before) throw new Error('crypto.randomFillSync left replaced');
    const { utils } = ssh2;
    const hostKey = utils.generateKeyPairSync('ed25519').private;
    const server = new ssh2.Server({ hostKeys: [hostKey] }, (c) => {
      c.on('authentication', (ctx) => ctx.accept());
      c.on('ready', () => c.on('session', (accept) => accept().once('exec', (acc) => { const ch = acc(); ch.end('ok'); ch.exit(0); })));
    });
    server.listen(0, '127.0.0.1', () => {
      const client = new ssh2.Client();
      client.on('ready', () => client.exec('x', (err, ch) => {
        if (err) throw err;
        let out = '';
        ch.on('data', (d) => out += d).on('close', () => {
          client.end(); server.close();
          console.log(JSON.stringify({ out, ...ssh2Random.stats() }));
        });
      }));
      client.connect({ host: '127.0.0.1', port: server.address().port, username: 'u', password: 'p' });
    });`;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { cwd: fileURLToPath(new URL('.', import.meta.url)), timeout: 30_000 });
  const r = JSON.parse(stdout.trim()) as { out: string; pooled: number; refills: number };
  assert.equal(r.out, 'ok');
  // Both ends of the connection pad every packet: the handshake alone is a dozen or more.
  assert.ok(r.pooled >= 12, `ssh2 drew ${r.pooled} times from the pool`);
  assert.ok(r.refills >= 1);
});
