import type { NeedleIndex } from './needle-index.js';
import type { Prefilter } from './prefilter.js';
import type { DetectFn } from './segment.js';

/** Everything compileMasker validated and built once, shared by every stream. */
export interface CompiledDetectors {
  /** Enabled built-in detectors (and vaulted values), in priority order. */
  readonly fns: readonly DetectFn[];
  /** The vaulted-secret detector, when there are values. */
  readonly vaultedFn: DetectFn | null;
  /** Policy-added regexes: id `custom:N` (1-based, in policy order). */
  readonly custom: readonly { readonly id: string; readonly re: RegExp; readonly mayMatchSpace: boolean }[];
  /** Literal anchors of every enabled detector: a line without a hit that counts cannot hold a secret. */
  readonly prefilter: Prefilter;
  /** The vaulted strings (UTF-8 byte strings). */
  readonly needles: readonly string[];
  /** The long vaulted strings, found by sampled hashing (short ones are in `prefilter`). */
  readonly longNeedles: NeedleIndex | null;
  /** `private-key` enabled. */
  readonly privateKey: boolean;
  /** Priority of each detector id for de-duplicating findings. */
  readonly priority: ReadonlyMap<string, number>;
  readonly maxLen: number;
  readonly idleMs: number;
}
