import path from 'node:path';
import { loadConfig } from '../config/load-config.js';
import type { Config } from '../config/types.js';
import type { CliIO } from './io.js';

/** `--config FILE` (default ./shellgate.yaml), resolved against the caller's working directory. */
export function configFromFlag(file: string | undefined, io: CliIO): Config {
  return loadConfig(path.resolve(io.cwd, file ?? 'shellgate.yaml'), io.env);
}
