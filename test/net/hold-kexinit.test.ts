import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net, { type AddressInfo, type Socket } from 'node:net';
import ssh2 from '../../src/net/ssh2.js';
import { holdKexinit } from '../../src/net/hold-kexinit.js';

const IDENT = 'SSH-2.0-client_test';

/** A TCP pair on loopback: the server's socket, after it wrote its ident and read the client's. */
async function pair(clientFirst: string): Promise<{ server: Socket; client: Socket; received: () => string; close: () => void }> {
  const srv = net.createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const accepted = once(srv, 'connection') as Promise<[Socket]>;
  const client = net.connect((srv.address() as AddressInfo).port, '127.0.0.1');
  let got = '';
  client.on('data', (d: Buffer) => (got += d.toString('latin1')));
  const [server] = await accepted;
  server.on('data', () => undefined); // the reader (ssh2's parser), consuming as data comes
  server.write('SSH-2.0-server_test\r\n');
  client.write(clientFirst);
  // Read until the client's first bytes are in, like ssh2 before it emits 'connection'.
  await until(() => server.bytesRead >= clientFirst.length, "the client's first bytes");
  return {
    server,
    client,
    received: () => got,
    close: () => {
      client.destroy();
      server.destroy();
      srv.close();
    },
  };
}

async function until(cond: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), `timed out waiting for ${what}`);
}

test('holds writes until the client sends its next bytes, then sends them in order', async () => {
  const p = await pair(`${IDENT}\r\n`);
  try {
    const before = p.server.bytesWritten;
    holdKexinit(p.server, IDENT.length, 60_000);
    assert.equal(p.server.write('KEXINIT-1;'), true);
    p.server.write('KEXINIT-2;');
    assert.equal(p.server.bytesWritten, before, 'held writes must not reach the socket');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(p.received(), 'SSH-2.0-server_test\r\n', 'still held while the client sends nothing');
    p.client.write('client-kexinit');
    await until(() => p.received().includes('KEXINIT-2;'), 'the held writes');
    assert.equal(p.received(), 'SSH-2.0-server_test\r\nKEXINIT-1;KEXINIT-2;');
    // Released for good: later writes go straight out.
    const after = p.server.bytesWritten;
    p.server.write('NEXT');
    assert.equal(p.server.bytesWritten, after + 4);
  } finally {
    p.close();
  }
});

test('a client that waits for our KEXINIT gets it after maxHoldMs', async () => {
  const p = await pair(`${IDENT}\r\n`);
  try {
    holdKexinit(p.server, IDENT.length, 20);
    p.server.write('KEXINIT');
    // The client sends nothing more; the timer releases the write.
    await until(() => p.received().endsWith('KEXINIT'), 'the write released by the timer');
  } finally {
    p.close();
  }
});

test('holds nothing when the client KEXINIT came with its ident', async () => {
  const p = await pair(`${IDENT}\r\nclient-kexinit`);
  try {
    const before = p.server.bytesWritten;
    holdKexinit(p.server, IDENT.length, 60_000);
    p.server.write('KEXINIT');
    assert.equal(p.server.bytesWritten, before + 'KEXINIT'.length, 'written at once');
  } finally {
    p.close();
  }
});

test('a connection closed while a write is held: the write is dropped, the socket left clean', async () => {
  const p = await pair(`${IDENT}\r\n`);
  const original = p.server.write;
  const listeners = p.server.listenerCount('data');
  holdKexinit(p.server, IDENT.length, 60_000);
  p.server.write('KEXINIT');
  const closed = once(p.server, 'close');
  p.client.destroy();
  await closed;
  assert.equal(p.server.write, original, 'write restored');
  assert.equal(p.server.listenerCount('data'), listeners, 'no listener left behind');
  p.close();
});

test('bad arguments are ignored: nothing is wrapped', () => {
  const s = new net.Socket();
  const original = s.write;
  holdKexinit(undefined, 10);
  holdKexinit(s, Number.NaN);
  assert.equal(s.write, original);
  s.destroy();
});

/**
 * With real SSH clients: our KEXINIT (the first write after the ident) leaves only once the
 * client's KEXINIT is in, and the key exchange completes. Without the hold, ssh2 writes it as
 * soon as it reads the client's identification line.
 */
for (const client of ['OpenSSH ssh', 'ssh2 Client'] as const) {
  test(`${client}: our KEXINIT answers the client's, and the handshake completes`, async () => {
    const hostKey = ssh2.utils.generateKeyPairSync('ed25519').private;
    const checks: { identLength: number; bytesReadAtKexinit: number | null }[] = [];
    let handshakes = 0;
    const server = new ssh2.Server({ hostKeys: [hostKey] }, (conn, info) => {
      const sock = (conn as unknown as { _sock: Socket })._sock;
      const check = { identLength: info.header.identRaw.length, bytesReadAtKexinit: null as number | null };
      checks.push(check);
      // Below the hold: sees each write when it reaches the socket.
      const write = sock.write;
      sock.write = function (this: Socket, ...args: unknown[]): boolean {
        if (check.bytesReadAtKexinit === null) check.bytesReadAtKexinit = sock.bytesRead;
        return (write as (...a: unknown[]) => boolean).apply(this, args);
      } as Socket['write'];
      holdKexinit(sock, info.header.identRaw.length);
      conn.on('handshake', () => handshakes++);
      conn.on('authentication', (ctx) => ctx.reject());
      conn.on('error', () => undefined);
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const port = (server.address() as AddressInfo).port;
    try {
      if (client === 'OpenSSH ssh') {
        const ssh = spawn('ssh', ['-F', '/dev/null', '-p', String(port), '-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=no', '-o', 'UserKnownHostsFile=/dev/null', '-o', 'ConnectTimeout=10', 'nobody@127.0.0.1', 'true'], { stdio: 'ignore' });
        const [code] = (await once(ssh, 'exit')) as [number];
        assert.equal(code, 255, 'authentication refused, as set up');
      } else {
        const c = new ssh2.Client();
        const failed = new Promise<Error>((resolve) => c.once('error', resolve));
        c.connect({ host: '127.0.0.1', port, username: 'nobody', password: 'x', readyTimeout: 10_000 });
        assert.match((await failed).message, /authentication methods failed/);
        c.end();
      }
      assert.equal(handshakes, 1, 'key exchange completed');
      assert.equal(checks.length, 1);
      const { identLength, bytesReadAtKexinit } = checks[0]!;
      assert.ok(bytesReadAtKexinit !== null && bytesReadAtKexinit > identLength + 2, `our KEXINIT left with ${bytesReadAtKexinit} bytes read: before the client's KEXINIT (its ident is ${identLength + 2})`);
    } finally {
      server.close();
    }
  });
}
