import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { compileMasker, MaskingConfigError } from '../../src/masking/index.js';
import { ShellgateError } from '../../src/errors.js';

test('an unknown detector id is an error naming it', () => {
  assert.throws(() => compileMasker({ disable: ['us-snn'] }), (e: Error) => e instanceof MaskingConfigError && /disable: unknown detector id 'us-snn'/.test(e.message));
  assert.throws(() => compileMasker({ only: ['nope'] }), (e: Error) => e instanceof ShellgateError && /only: unknown detector id 'nope'/.test(e.message));
});

test('vaulted-secret cannot be disabled, and stays on with only', () => {
  assert.throws(() => compileMasker({ disable: ['vaulted-secret'] }), /'vaulted-secret' cannot be turned off/);
  const value = 'vlt-' + randomBytes(6).toString('hex');
  const m = compileMasker({ only: ['jwt'], vaulted: [value] });
  assert.equal(m.maskText(`x ${value} y`).text, `x ${'*'.repeat(value.length)} y`);
});

test('an invalid policy regex is a clear error naming it, at compile time', () => {
  assert.throws(
    () => compileMasker({ add: ['ok-[0-9]+', '(unclosed'] }),
    (e: Error) => e instanceof MaskingConfigError && e.code === 'ERR_MASKING_CONFIG' && /add\[1\]: invalid regular expression \/\(unclosed\//.test(e.message),
  );
  assert.throws(() => compileMasker({ add: ['a*'] }), /matches the empty string/);
  assert.throws(() => compileMasker({ add: [''] }), MaskingConfigError);
});

test('programmer errors are TypeErrors', () => {
  assert.throws(() => compileMasker({ disable: 'us-ssn' as unknown as string[] }), TypeError);
  assert.throws(() => compileMasker({ idleMs: -1 }), TypeError);
  assert.throws(() => compileMasker({ maxSecretLength: 10 }), TypeError);
  assert.throws(() => compileMasker({ vaulted: [1 as unknown as string] }), TypeError);
  assert.throws(() => compileMasker().maskText(undefined as unknown as string), TypeError);
});

test('a policy regex that may match spaces still gives chunk-exact output', async () => {
  const m = compileMasker({ add: ['ref [0-9]+ [0-9]+'] });
  const text = 'a ref 12 345 b\n';
  assert.equal(m.maskText(text).text, 'a ********** b\n');
  const s = m.createStream();
  const got: Buffer[] = [];
  s.on('data', (d: Buffer) => got.push(d));
  for (const ch of text) s.write(ch);
  s.end();
  await new Promise((r) => s.on('end', r));
  assert.equal(Buffer.concat(got).toString(), 'a ********** b\n');
});
