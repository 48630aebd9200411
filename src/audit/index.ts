/** Tamper-evident evidence: hash-chained audit log, signed checkpoints, asciicast recordings, verification. */
export { canonicalize } from './canonicalize.js';
export { chainHash, GENESIS_HASH, auditTimestamp } from './chain-hash.js';
export { ensureAuditSchema } from './ensure-audit-schema.js';
export { InlineGate, type InlineGateOptions } from './inline-gate.js';
export { AuditLog, type AuditEventInput, type AuditOptions } from './audit-log.js';
export { loadAuditPublicKey, SIGNING_KEY_FILE, type JsonWebKey } from './signing-key.js';
export { Recorder, recordingFileName, type RecorderOptions, type SealedRecording } from './recorder.js';
export { recoverUnsealed, type Recovered } from './recover-unsealed.js';
export { verifyAudit, type VerifyResult, type VerifyProblem, type VerifyOptions } from './verify-audit.js';
export { hasSessionIndex, listSessions, newestSessions, recentSessionIds, recentSessions, sessionSummary, summarizeSession, SESSION_KEY, type SessionSummary, type SessionEventRow } from './list-sessions.js';
export { AuditError } from './errors.js';
