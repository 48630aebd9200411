import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalize } from '../../src/audit/index.js';
import { isCanonicalText } from '../../src/audit/canonicalize.js';

/** IEEE 754 hex bit pattern → number (RFC 8785 Appendix B lists its samples this way). */
function fromBits(hex: string): number {
  const b = Buffer.from(hex, 'hex');
  return b.readDoubleBE(0);
}

test('RFC 8785 §3.2.2 example: whitespace, numbers, string escapes, literals', () => {
  const input =
    '{\n  "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],\n' +
    '  "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",\n' +
    '  "literals": [null, true, false]\n}';
  const expected =
    '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}';
  assert.equal(canonicalize(JSON.parse(input)), expected);
});

test('RFC 8785 §3.2.3 example: keys sorted by UTF-16 code units', () => {
  const input = {
    '\u20ac': 'Euro Sign',
    '\r': 'Carriage Return',
    '\ufb33': 'Hebrew Letter Dalet With Dagesh',
    '1': 'One',
    '\ud83d\ude00': 'Emoji: Grinning Face',
    '\u0080': 'Control',
    '\u00f6': 'Latin Small Letter O With Diaeresis',
  };
  const keys = Object.keys(JSON.parse(canonicalize(input)) as object);
  // JSON.parse reorders integer-like keys, so read the order from the text itself.
  const text = canonicalize(input);
  const order = ['\\r', '1', '\u0080', '\u00f6', '\u20ac', '\ud83d\ude00', '\ufb33'].map((k) => text.indexOf(`"${k}":`));
  assert.equal(keys.length, 7);
  for (let i = 1; i < order.length; i++) assert.ok(order[i - 1]! >= 0 && order[i - 1]! < order[i]!, `key ${i} out of order in ${text}`);
  assert.ok(text.startsWith('{"\\r":"Carriage Return","1":"One","\u0080":"Control"'));
});

test('RFC 8785 Appendix B number samples', () => {
  const samples: [string, string][] = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'],
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ];
  for (const [bits, text] of samples) assert.equal(canonicalize(fromBits(bits)), text, bits);
});

test('non-finite numbers, lone surrogates, BigInt and cycles are rejected', () => {
  assert.throws(() => canonicalize(fromBits('7fffffffffffffff')), TypeError); // NaN
  assert.throws(() => canonicalize(fromBits('7ff0000000000000')), TypeError); // Infinity
  assert.throws(() => canonicalize({ a: [-Infinity] }), TypeError);
  assert.throws(() => canonicalize('x\ud800y'), TypeError);
  assert.throws(() => canonicalize({ ['\udc00']: 1 }), TypeError);
  assert.throws(() => canonicalize(10n), TypeError);
  const cyc: Record<string, unknown> = {};
  cyc.self = cyc;
  assert.throws(() => canonicalize(cyc), TypeError);
});

test('no whitespace, undefined dropped, nested objects sorted, control characters escaped', () => {
  assert.equal(canonicalize({ b: [1, undefined, { y: 2, x: 'a\u0001\u001f\u007f\u2028' }], a: undefined, c: null }), '{"b":[1,null,{"x":"a\\u0001\\u001f\u007f\u2028","y":2}],"c":null}');
  assert.equal(canonicalize(-0), '0');
  assert.equal(canonicalize(new Date(0)), '"1970-01-01T00:00:00.000Z"');
  // Round trip: canonical text is a fixed point.
  const v = { z: 1.5, a: ['é', true], m: { '10': 1, '9': 2 } };
  assert.equal(canonicalize(JSON.parse(canonicalize(v))), canonicalize(v));
  assert.equal(canonicalize(v), '{"a":["é",true],"m":{"10":1,"9":2},"z":1.5}');
});

test('isCanonicalText accepts exactly the canonical text (the verifier\'s fast path)', () => {
  const yes = ['{"a":1,"b":[1,2,{"c":null}]}', '{"10":1,"9":2}', '{"s":"\\u000f\\n€"}', '{"n":1e+21}', '[]', '"x"'];
  for (const t of yes) assert.equal(isCanonicalText(t, JSON.parse(t)), true, t);
  const no = ['{"b":1,"a":2}', '{ "a":1}', '{"a":1.0}', '{"a":"\\u0041"}', '{"9":2,"10":1}', '{"a":"\\ud800"}', '{"a":"\\/"}', '{"n":1E+21}'];
  for (const t of no) assert.equal(isCanonicalText(t, JSON.parse(t)), false, t);
});
