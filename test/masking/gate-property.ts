import assert from 'node:assert/strict';
import fc from 'fast-check';
import { compileMasker, type MaskerOptions } from '../../src/masking/index.js';

/** A policy regex that never matches: with one, the engine scans every line with every detector. */
const NEVER = '(?!)';

/**
 * The prefilter masks exactly what scanning every line masks: texts joined from `pieces`
 * (strings, or functions giving fresh random ones), same output and same findings, under
 * each of `configs`.
 */
export function assertGateMatchesFullScan(configs: MaskerOptions[], pieces: (string | (() => string))[], maxPieces: number, numRuns = 1000): void {
  const pairs = configs.map((c) => [compileMasker(c), compileMasker({ ...c, add: [NEVER] })] as const);
  const text = fc
    .array(fc.nat({ max: pieces.length - 1 }), { minLength: 1, maxLength: maxPieces })
    .map((ix) => ix.map((i) => { const p = pieces[i]!; return typeof p === 'function' ? p() : p; }).join(''));
  fc.assert(
    fc.property(fc.nat({ max: pairs.length - 1 }), text, (ci, t) => {
      const [m, ref] = pairs[ci]!;
      const got = m.maskText(t);
      const want = ref.maskText(t);
      assert.equal(got.text, want.text, JSON.stringify({ ci, t }));
      assert.deepEqual(got.findings, want.findings, JSON.stringify({ ci, t }));
    }),
    { numRuns },
  );
}
