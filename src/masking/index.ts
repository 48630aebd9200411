/** Secret masking: detectors + a chunk-boundary-exact streaming Transform (spec/masking.md). */
export { DETECTOR_IDS } from './detector-ids.js';
export { compileMasker, DEFAULT_IDLE_MS, DEFAULT_MAX_SECRET_LENGTH, type Masker, type MaskerOptions } from './compile-masker.js';
export type { Finding } from './mask-engine.js';
export { MaskStream } from './mask-stream.js';
export { MaskingConfigError } from './errors.js';
