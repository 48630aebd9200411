import { ShellgateError } from '../errors.js';

export type ApprovalErrorKind =
  | 'unknown' // no such request
  | 'decided' // already approved / denied / timed out / cancelled
  | 'expired' // still pending in the store but past its expiry
  | 'self' // an approver tried to decide their own request
  | 'group' // approver not in the rule's approverGroups
  | 'duplicate' // this approver already decided this request
  | 'unauthenticated' // a one-time link on a rule that needs authenticated approvers
  | 'bad-token' // one-time link token forged, malformed or for another gateway
  | 'token-used' // one-time link used before
  | 'token-expired'; // one-time link past its expiry

const STATUS: Record<ApprovalErrorKind, number> = {
  unknown: 404,
  decided: 409,
  expired: 409,
  self: 403,
  group: 403,
  duplicate: 409,
  unauthenticated: 403,
  'bad-token': 403,
  'token-used': 409,
  'token-expired': 410,
};

/** A decision was refused. `status` is the HTTP status the API answers with; the message is one safe line. */
export class ApprovalError extends ShellgateError {
  static override code = 'ERR_APPROVAL';
  readonly status: number;
  constructor(
    readonly kind: ApprovalErrorKind,
    message: string,
  ) {
    super(message);
    this.status = STATUS[kind];
  }
}

/** The remote gateway refused or failed a CLI call (`--url` mode); the message is the server's one line. */
export class ApprovalClientError extends ShellgateError {
  static override code = 'ERR_APPROVAL_CLIENT';
}
