import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Socket } from 'node:net';
import { coalesceWrites } from '../../src/net/coalesce-writes.js';

test('writes made in one tick leave in one writev, in order; later ticks and end() still work', async (t) => {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const sock = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(sock, 'connect');
  const [peer] = await accepted;
  const received: Buffer[] = [];
  peer.on('data', (d: Buffer) => received.push(d));
  const ended = once(peer, 'end');

  const batches: number[] = [];
  const s = sock as unknown as { _writev(chunks: { chunk: Buffer }[], cb: () => void): void; _write(chunk: Buffer, enc: string, cb: () => void): void };
  const writev = s._writev.bind(sock);
  const write1 = s._write.bind(sock);
  s._writev = (chunks, cb) => (batches.push(chunks.length), writev(chunks, cb));
  s._write = (chunk, enc, cb) => (batches.push(1), write1(chunk, enc, cb));
  coalesceWrites(sock);

  sock.write(Buffer.from('one,'));
  sock.write(Buffer.from('two,'));
  sock.write('three,');
  await new Promise((r) => setImmediate(r));
  sock.write('four');
  sock.end();
  await ended;
  assert.equal(Buffer.concat(received).toString(), 'one,two,three,four');
  assert.deepEqual(batches, [3, 1], 'the three writes of the first tick went out together');
});
