import { ShellgateError } from '../errors.js';

/** A masking option is invalid (unknown detector id, bad regex, disabling vaulted-secret). Names the option, never a secret. */
export class MaskingConfigError extends ShellgateError {
  static override code = 'ERR_MASKING_CONFIG';
}
