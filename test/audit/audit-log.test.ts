import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { once } from 'node:events';
import path from 'node:path';
import Database from 'better-sqlite3';
import { compactVerify, importJWK } from 'jose';
import { AuditWriteError } from '../../src/errors.js';
import { openStore, type Store } from '../../src/store/open-store.js';
import { AuditLog, canonicalize, chainHash, GENESIS_HASH, loadAuditPublicKey, verifyAudit, SIGNING_KEY_FILE } from '../../src/audit/index.js';
import { MAX_BATCH } from '../../src/audit/audit-log.js';
import type { EventSink, WriteOptions } from '../../src/audit/event-writer.js';
import { auditOptions, memoryLogger, newStore, openLog, storeFile, tmpDir } from './helpers.js';

type Row = { seq: number; ts: string; type: string; body: string; prev_hash: string; hash: string };

test('append writes the spec row: canonical body with seq/ts/type, chained hash', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const log = await openLog(db, dir);
  const a = await log.append({ type: 'session.start', session: 's1', subject: 'agent-7', target: 'web-1', groups: ['ops'], client: '127.0.0.1' });
  const b = await log.append({ type: 'command.decision', session: 's1', command: 'ls -l', argv: ['ls', '-l'], decision: 'allow', rule: 'ro', reason: 'ok', extra: undefined });
  assert.deepEqual([a.seq, b.seq], [1, 2]);
  // Read through a second connection: committed, not just cached.
  const other = new Database(storeFile(dir), { readonly: true });
  const rows = other.prepare('SELECT * FROM audit_events ORDER BY seq').all() as Row[];
  other.close();
  assert.equal(rows.length, 2);
  assert.equal(rows[0]!.prev_hash, GENESIS_HASH);
  assert.equal(rows[0]!.hash, chainHash(GENESIS_HASH, rows[0]!.body));
  assert.equal(rows[1]!.prev_hash, rows[0]!.hash);
  assert.equal(rows[1]!.hash, b.hash);
  const body = JSON.parse(rows[1]!.body);
  assert.equal(rows[1]!.body, canonicalize(body));
  assert.deepEqual(Object.keys(body), ['argv', 'command', 'decision', 'reason', 'rule', 'seq', 'session', 'ts', 'type']);
  assert.equal(body.seq, 2);
  assert.equal(body.ts, rows[1]!.ts);
  assert.match(body.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(rows[1]!.type, 'command.decision');
  await assert.rejects(log.append({ type: 'x', seq: 9 }), TypeError);
  await assert.rejects(log.append({ type: 'x', bytes: NaN }), TypeError);
  await assert.rejects(log.append({ type: 'checkpoint' }), TypeError);
  await log.close();
  await assert.rejects(log.append({ type: 'late' }), AuditWriteError);
  db.close();
});

test('the body is a canonical snapshot taken at append time, whatever keys surround seq', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const log = await openLog(db, dir);
  const argv = ['rm', '-rf', '/tmp/x'];
  const pending = log.append({ type: 'command.decision', argv, '': 'empty key', '10': 'ten', '9': 'nine', sep: 1, seq_: 2, se: 3, 'é': 4, nested: { b: 1, a: [2, { d: 1, c: 0 }] } });
  argv[0] = 'ls'; // mutated before the commit: must not change the record
  await pending;
  await log.append({ type: 'only.above' });
  const rows = db.prepare('SELECT body FROM audit_events ORDER BY seq').all() as { body: string }[];
  const body = JSON.parse(rows[0]!.body);
  assert.deepEqual(body.argv, ['rm', '-rf', '/tmp/x']);
  assert.equal(rows[0]!.body, canonicalize(body));
  assert.ok(rows[0]!.body.startsWith('{"":"empty key","10":"ten","9":"nine","argv":'));
  assert.ok(rows[0]!.body.includes('"se":3,"sep":1,"seq":1,"seq_":2,"ts":'));
  assert.equal(rows[1]!.body, canonicalize(JSON.parse(rows[1]!.body)));
  assert.ok(rows[1]!.body.startsWith('{"seq":2,"ts":'));
  await log.close();
  db.close();
});

test('group commit: a burst of appends shares one transaction; chain stays in order', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const log = await openLog(db, dir);
  const before = log.transactions;
  const results = await Promise.all(Array.from({ length: 300 }, (_, i) => log.append({ type: 'command.result', session: `s${i % 7}`, exit: i })));
  assert.equal(log.transactions - before, 1);
  assert.deepEqual(results.map((r) => r.seq), Array.from({ length: 300 }, (_, i) => i + 1));
  const r = await verifyAudit({ db, recordingsDir: null, witness: null, publicKey: null });
  assert.equal(r.ok, true);
  assert.equal(r.events, 300);
  await log.close();
  db.close();
});

test('signing key: created 0600 as a private Ed25519 JWK, reused on the next open', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const log1 = await openLog(db, dir);
  const file = path.join(dir, 'data', SIGNING_KEY_FILE);
  assert.equal(statSync(file).mode & 0o777, 0o600);
  const jwk = JSON.parse(readFileSync(file, 'utf8'));
  assert.equal(jwk.kty, 'OKP');
  assert.equal(jwk.crv, 'Ed25519');
  assert.equal(typeof jwk.d, 'string');
  await log1.close();
  const log2 = await openLog(db, dir);
  await log2.close();
  assert.deepEqual(JSON.parse(readFileSync(file, 'utf8')), jwk);
  const pub = await loadAuditPublicKey(path.join(dir, 'data'));
  assert.equal(pub.x, jwk.x);
  assert.equal((pub as { d?: string }).d, undefined);
  db.close();
});

test('checkpoints every N events and on close; signed head; witness file lines', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const witness = path.join(dir, 'witness', 'witness.jsonl');
  const log = await openLog(db, dir, { checkpointEvery: 5, witness });
  for (let i = 0; i < 12; i++) await log.append({ type: 'command.decision', session: 's', decision: 'allow', command: `echo ${i}` });
  await log.close();
  const rows = db.prepare('SELECT * FROM audit_events ORDER BY seq').all() as Row[];
  const cps = rows.filter((r) => r.type === 'checkpoint');
  // 5 events → cp at 6; 5 more → cp at 12; 2 more + close → cp at 15.
  assert.deepEqual(cps.map((r) => r.seq), [6, 12, 15]);
  const pub = await loadAuditPublicKey(path.join(dir, 'data'));
  const key = await importJWK(pub, 'EdDSA');
  for (const cp of cps) {
    const body = JSON.parse(cp.body);
    const head = rows[cp.seq - 2]!;
    assert.deepEqual(body.head, { seq: head.seq, hash: head.hash });
    const { payload, protectedHeader } = await compactVerify(body.jws, key);
    assert.equal(protectedHeader.alg, 'EdDSA');
    assert.deepEqual(JSON.parse(new TextDecoder().decode(payload)), { seq: head.seq, hash: head.hash, ts: head.ts });
  }
  const lines = readFileSync(witness, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(lines.map((l) => [l.seq, l.hash]), cps.map((cp) => [cp.seq - 1, rows[cp.seq - 2]!.hash]));
  assert.deepEqual(Object.keys(lines[0]), ['seq', 'hash', 'jws']);
  // A second close, or a checkpoint with nothing new, adds nothing.
  const again = await openLog(db, dir, { witness });
  await again.checkpoint();
  await again.close();
  assert.equal((db.prepare('SELECT count(*) AS n FROM audit_events').get() as { n: number }).n, 15);
  const r = await verifyAudit({ db, recordingsDir: null, witness, publicKey: pub });
  assert.deepEqual([r.ok, r.checkpoints, r.events], [true, 3, 15]);
  db.close();
});

/** `audit verify` with the log's public key: the chain, its checkpoints and their signatures hold. */
async function assertVerifies(db: Store, dir: string) {
  const r = await verifyAudit({ db, recordingsDir: null, witness: null, publicKey: await loadAuditPublicKey(path.join(dir, 'data')) });
  assert.equal(r.ok, true, JSON.stringify(r.problems));
  return r;
}

/** The log's sink, with every write recorded and the chance to act before it goes through. */
function spySink(log: AuditLog, before?: (batch: readonly unknown[], opts: WriteOptions) => Promise<void> | void) {
  const sink = (log as unknown as { sink: EventSink }).sink;
  const writes: { events: number; force: boolean }[] = [];
  const write = sink.writeEvents.bind(sink);
  sink.writeEvents = async (batch, opts) => {
    writes.push({ events: batch.length, force: opts.force === true });
    await before?.(batch, opts);
    return write(batch, opts);
  };
  return writes;
}

test('a burst that crosses checkpoint boundaries is one transaction: its checkpoints are signed inside it, where they fall', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const witness = path.join(dir, 'witness.jsonl');
  const log = await openLog(db, dir, { checkpointEvery: 5, witness });
  const writes = spySink(log);
  // 17 appends in one turn: one transaction, a checkpoint after each 5th.
  const links = await Promise.all(Array.from({ length: 17 }, (_, i) => log.append({ type: 'command.result', session: 's', exit: i })));
  assert.deepEqual(writes, [{ events: 17, force: false }]);
  assert.deepEqual(links.map((l) => l.seq).slice(0, 7), [1, 2, 3, 4, 5, 7, 8], 'the checkpoint took seq 6');
  await log.close(); // 2 events since the last checkpoint: the head is signed once more
  assert.deepEqual(writes.at(-1), { events: 0, force: true });
  const rows = db.prepare('SELECT * FROM audit_events ORDER BY seq').all() as Row[];
  const cps = rows.filter((r) => r.type === 'checkpoint');
  assert.deepEqual(cps.map((r) => r.seq), [6, 12, 18, 21]);
  for (const cp of cps) assert.deepEqual(JSON.parse(cp.body).head, { seq: cp.seq - 1, hash: rows[cp.seq - 2]!.hash });
  const lines = readFileSync(witness, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { seq: number });
  assert.deepEqual(lines.map((l) => l.seq), [5, 11, 17, 20]);
  const r = await verifyAudit({ db, recordingsDir: null, witness, publicKey: await loadAuditPublicKey(path.join(dir, 'data')) });
  assert.deepEqual([r.ok, r.checkpoints, r.events], [true, 4, 21]);
  db.close();
});

test('a backlog longer than MAX_BATCH is written in several transactions, in order', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const log = await openLog(db, dir, { checkpointEvery: 400 });
  const writes = spySink(log);
  const links = await Promise.all(Array.from({ length: MAX_BATCH + 300 }, (_, i) => log.append({ type: 'command.result', i })));
  assert.deepEqual(writes, [
    { events: MAX_BATCH, force: false },
    { events: 300, force: false },
  ]);
  for (let i = 1; i < links.length; i++) assert.ok(links[i]!.seq > links[i - 1]!.seq);
  await log.close();
  const r = await assertVerifies(db, dir);
  assert.deepEqual([r.checkpoints, r.events], [4, MAX_BATCH + 300 + 4]);
  db.close();
});

test('another process appending between two batches: each checkpoint signs the head as the transaction finds it', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const other = await openLog(newStore(dir), dir, { writer: 'inline' }); // a second process on the same store
  const log = await openLog(db, dir, { checkpointEvery: 3 });
  let n = 0;
  spySink(log, async () => {
    await other.append({ type: 'session.start', session: `elsewhere-${n++}` }); // just before each of our transactions
  });
  await Promise.all(Array.from({ length: 4 }, (_, i) => log.append({ type: 'command.result', session: 's', exit: i })));
  await log.close();
  await other.close();
  const rows = db.prepare('SELECT seq, type, body, hash FROM audit_events ORDER BY seq').all() as Row[];
  assert.deepEqual(
    rows.map((r) => r.type),
    ['session.start', 'command.result', 'command.result', 'command.result', 'checkpoint', 'command.result', 'session.start', 'checkpoint'],
  );
  // The closing checkpoint covers the other process's event, which came last.
  for (const i of [4, 7]) assert.deepEqual(JSON.parse(rows[i]!.body).head, { seq: rows[i - 1]!.seq, hash: rows[i - 1]!.hash });
  await assertVerifies(db, dir);
  db.close();
});

test('a transaction that fails rejects its appends and the checkpoint asked with them; the next one works', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const log = await openLog(db, dir, { checkpointEvery: 2 });
  let failures = 0;
  const writes = spySink(log, () => {
    if (failures++ === 0) throw Object.assign(new Error('disk I/O error'), { code: 'SQLITE_IOERR' });
  });
  const first = [log.append({ type: 'a' }), log.append({ type: 'b' }), log.checkpoint()];
  const settled = await Promise.allSettled(first);
  assert.deepEqual(settled.map((s) => s.status), ['rejected', 'rejected', 'rejected']);
  for (const s of settled) assert.ok((s as PromiseRejectedResult).reason instanceof AuditWriteError);
  assert.equal(writes.length, 1, 'no retry loop');
  await log.append({ type: 'c' });
  await log.append({ type: 'd' }); // the 2nd event since the last checkpoint: signed in this transaction
  await log.close();
  const rows = db.prepare('SELECT seq, type, body FROM audit_events ORDER BY seq').all() as Row[];
  assert.deepEqual(rows.map((r) => r.type), ['c', 'd', 'checkpoint']);
  assert.equal(JSON.parse(rows[2]!.body).head.seq, 2);
  await assertVerifies(db, dir);
  db.close();
});

test('periodic checkpoint after T ms; witness URL receives each checkpoint, failures only logged', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const received: string[] = [];
  const server = createServer((req, res) => {
    let s = '';
    req.on('data', (c) => (s += c));
    req.on('end', () => {
      received.push(s);
      res.end('ok');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(() => server.close());
  const port = (server.address() as { port: number }).port;
  const logger = memoryLogger();
  const log = await openLog(db, dir, { checkpointIntervalMs: 50, witnessUrl: `http://127.0.0.1:${port}/witness?token=abc`, logger });
  await log.append({ type: 'session.start', session: 's' });
  const deadline = Date.now() + 5000;
  while (received.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  assert.equal(received.length, 1);
  const got = JSON.parse(received[0]!);
  assert.equal(got.seq, 1);
  assert.equal(typeof got.jws, 'string');
  const cp = db.prepare("SELECT body FROM audit_events WHERE type = 'checkpoint'").get() as { body: string };
  assert.equal(JSON.parse(cp.body).jws, got.jws);
  await log.close();

  // An unreachable witness: the checkpoint is still committed, and a warning is logged without the query string.
  server.close();
  const down = await openLog(db, dir, { witnessUrl: `http://127.0.0.1:${port}/witness?token=abc`, logger });
  await down.append({ type: 'session.end', session: 's' });
  await down.close();
  assert.equal((db.prepare("SELECT count(*) AS n FROM audit_events WHERE type = 'checkpoint'").get() as { n: number }).n, 2);
  const warn = logger.lines.find((l) => l.level === 'warn');
  assert.ok(warn, 'a warning was logged');
  assert.ok(!JSON.stringify(warn).includes('token=abc'));
  await assert.rejects(openLog(db, dir, { witnessUrl: 'file:///etc/passwd' }), TypeError);
  db.close();
});

test('append to a read-only store rejects with AuditWriteError', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const log = await openLog(db, dir);
  await log.append({ type: 'session.start', session: 'a' }); // not closed: the head is no checkpoint
  const ro = openStore(storeFile(dir), { readonly: true });
  const roLog = await openLog(ro, dir);
  const results = await Promise.allSettled([roLog.append({ type: 'command.decision', decision: 'allow' }), roLog.append({ type: 'x' })]);
  for (const r of results) {
    assert.equal(r.status, 'rejected');
    assert.ok((r as PromiseRejectedResult).reason instanceof AuditWriteError);
    assert.equal((r as PromiseRejectedResult).reason.code, 'ERR_AUDIT_WRITE');
  }
  await assert.rejects(roLog.checkpoint(), AuditWriteError);
  ro.close();
  db.close();
});

test('append while another connection holds the write lock rejects with AuditWriteError (no silent skip)', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  db.pragma('busy_timeout = 100');
  const log = await openLog(db, dir);
  const locker = new Database(storeFile(dir));
  locker.exec('BEGIN IMMEDIATE');
  await assert.rejects(log.append({ type: 'command.decision', decision: 'allow' }), AuditWriteError);
  locker.exec('ROLLBACK');
  locker.close();
  // Then the log works again, with no hole where the failed append was.
  const ok = await log.append({ type: 'command.decision', decision: 'allow' });
  assert.equal(ok.seq, 1);
  await log.close();
  db.close();
});

test('append after the data folder was removed rejects with AuditWriteError', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const log = await openLog(db, dir);
  await log.append({ type: 'session.start', session: 'a' });
  rmSync(path.join(dir, 'data'), { recursive: true, force: true });
  await assert.rejects(log.append({ type: 'command.decision', decision: 'allow' }), (err: unknown) => err instanceof AuditWriteError && /removed/.test((err as Error).message));
  await assert.rejects(log.close(), AuditWriteError);
  db.close();
});

test('AuditLog.open validates its options', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  await assert.rejects(AuditLog.open(db, auditOptions(dir, { checkpointEvery: 0 })), TypeError);
  await assert.rejects(AuditLog.open(db, auditOptions(dir, { checkpointIntervalMs: 0 })), TypeError);
  db.close();
});

test('two openers racing to create the signing key end up with the same key', async (t) => {
  const dir = tmpDir(t);
  const { loadOrCreateSigningKey } = await import('../../src/audit/signing-key.js');
  const keys = await Promise.all(Array.from({ length: 4 }, () => loadOrCreateSigningKey(path.join(dir, 'data'))));
  assert.equal(new Set(keys.map((k) => k.publicJwk.x)).size, 1);
  assert.deepEqual(readdirSync(path.join(dir, 'data')), [SIGNING_KEY_FILE], 'no temporary files left');
});

test('hasEvent finds committed events by type and top-level fields; field names are checked', async (t) => {
  const dir = tmpDir(t);
  const db = newStore(dir);
  const log = await openLog(db, dir);
  await log.append({ type: 'approval.decided', approval: 'ab12cd34', approver: 'alice', decisionRow: 7 });
  assert.equal(log.hasEvent('approval.decided', { approval: 'ab12cd34', decisionRow: 7 }), true);
  assert.equal(log.hasEvent('approval.decided', { approval: 'ab12cd34', decisionRow: 8 }), false, 'another row');
  assert.equal(log.hasEvent('approval.decided', { approval: 'zz99zz99', decisionRow: 7 }), false, 'another approval');
  assert.equal(log.hasEvent('approval.refused', { approval: 'ab12cd34', decisionRow: 7 }), false, 'another type');
  assert.equal(log.hasEvent('approval.decided', { decisionRow: '7' }), false, 'types are compared too');
  assert.throws(() => log.hasEvent('approval.decided', { "a') OR 1=1 --": 1 }), TypeError);
  assert.throws(() => log.hasEvent('approval.decided', {}), TypeError);
  await log.close();
  db.close();
});
