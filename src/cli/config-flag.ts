import path from 'node:path';
import { loadConfig, type LoadOptions } from '../config/load-config.js';
import type { Config } from '../config/types.js';
import type { CliIO } from './io.js';

/**
 * `--config FILE` (default ./shellgate.yaml), resolved against the caller's working directory.
 * Commands that only read where things are pass `{ secrets: 'optional' }` (see LoadOptions).
 */
export function configFromFlag(file: string | undefined, io: CliIO, opts: LoadOptions = {}): Config {
  return loadConfig(path.resolve(io.cwd, file ?? 'shellgate.yaml'), io.env, opts);
}
