export { ApprovalBroker, type ApprovalBrokerOptions, type LinkInfo } from './broker.js';
export { ApprovalError, type ApprovalErrorKind } from './errors.js';
export { ensureApprovalsSchema } from './schema.js';
export { listPendingApprovals } from './list-pending.js';
export { recordDecision } from './record-decision.js';
export { registerApprovalRoutes } from './register-routes.js';
export { verifyWebhookSignature, signWebhook, WEBHOOK_TOLERANCE_SEC } from './webhook-signature.js';
export { normalizeApprovalId } from './new-id.js';
export type {
  ApprovalOutcome,
  ApprovalRequestInput,
  AuditSink,
  DecisionInput,
  DecisionVia,
  PendingApproval,
  PendingSummary,
  RequestStatus,
} from './types.js';
