/** Where approval steps become audit events. The gateway passes its hash-chained audit log. */
export interface AuditSink {
  append(e: {
    type: string;
    session?: string;
    subject?: string;
    target?: string;
    [k: string]: unknown;
  }): Promise<{ seq: number; hash: string }>;
  /**
   * Whether a committed event of `type` has these field values. With it, a decision whose
   * event was committed just before a crash (before its row was marked applied) is not
   * audited a second time after the restart.
   */
  hasEvent?(type: string, fields: Record<string, string | number>): boolean;
}

export interface ApprovalRequestInput {
  subject: string;
  groups: readonly string[];
  target: string;
  command: string;
  argv: string[][];
  rule: string;
  /** Distinct approvers needed (the rule's `approvers`, default 1). */
  approvers: number;
  /** When non-empty, an approver must be in one of these groups. */
  approverGroups: readonly string[];
  session: string;
}

export type ApprovalOutcome =
  | { result: 'approved'; approvers: string[] }
  | { result: 'denied'; approver: string; reason: string }
  | { result: 'timeout' }
  | { result: 'cancelled' };

export interface PendingApproval {
  id: string;
  expiresAt: Date;
  /** Resolves once with the outcome; 'approved' only after its audit events are durable. */
  wait(): Promise<ApprovalOutcome>;
  /** The agent closed the channel: the request ends as cancelled (unless already decided). */
  cancel(): void;
}

/**
 * How a decision reached shellgate (the `via` of its audit event), from audit.md's list: `web`
 * is HTTP, the console and the API alike (`shellgate approvals --url` included).
 */
export type DecisionVia = 'cli' | 'webhook' | 'web';

export interface DecisionInput {
  approver: string;
  approverGroups: readonly string[];
  decision: 'approve' | 'deny';
  reason?: string;
  via: DecisionVia;
}

/** A pending request as `approvals list --json` and `GET /api/approvals` show it. */
export interface PendingSummary {
  id: string;
  subject: string;
  groups: string[];
  target: string;
  command: string;
  argv: string[][];
  rule: string;
  session: string;
  /** RFC 3339 */
  requestedAt: string;
  /** RFC 3339 */
  expiresAt: string;
  /** Distinct approvers needed. */
  approvers: number;
  /** Approvals recorded so far. */
  approvals: number;
  /** Who approved so far. */
  approvedBy: string[];
  approverGroups: string[];
}

export type RequestStatus = 'pending' | 'approved' | 'denied' | 'timeout' | 'cancelled';
