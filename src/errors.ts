/**
 * Error classes with a stable `code`, in the manner of jose's util/errors:
 * `TypeError` (or ConfigError) for misconfiguration, domain errors for hostile input.
 * Messages never contain secret values.
 */
export class ShellgateError extends Error {
  static code = 'ERR_SHELLGATE';
  code: string;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = (new.target as typeof ShellgateError).code;
  }
}

/** A configuration file or option is invalid. `path` names the option (`targets.web-1.port`). */
export class ConfigError extends ShellgateError {
  static override code = 'ERR_CONFIG';
  constructor(
    readonly file: string,
    readonly optionPath: string,
    readonly problem: string,
  ) {
    super(`${file}: ${optionPath ? optionPath + ': ' : ''}${problem}`);
  }
}

/** A token (JWT or ticket) was rejected. `reason` is safe to log: it never holds the token. */
export class TokenRejectedError extends ShellgateError {
  static override code = 'ERR_TOKEN_REJECTED';
}

/** A policy file is invalid (file, line, problem in the message). */
export class PolicyError extends ShellgateError {
  static override code = 'ERR_POLICY';
}

/** Vault failures: wrong master key, tampered entry, unknown entry. */
export class VaultError extends ShellgateError {
  static override code = 'ERR_VAULT';
}

/** The upstream target could not be reached or refused us (host key mismatch included). */
export class UpstreamError extends ShellgateError {
  static override code = 'ERR_UPSTREAM';
}

export class HostKeyMismatchError extends UpstreamError {
  static override code = 'ERR_HOST_KEY_MISMATCH';
}

/** The audit log could not be appended: the command must not run. */
export class AuditWriteError extends ShellgateError {
  static override code = 'ERR_AUDIT_WRITE';
}

/** A user error on the command line: printed as one line, exit 2. */
export class UsageError extends ShellgateError {
  static override code = 'ERR_USAGE';
}
