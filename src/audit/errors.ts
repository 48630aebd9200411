import { ShellgateError } from '../errors.js';

/** Audit material is missing or unusable (no signing key, a recording that already exists). */
export class AuditError extends ShellgateError {
  static override code = 'ERR_AUDIT';
}
