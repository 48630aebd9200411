import type { Logger } from 'pino';
import type { Config, TargetConfig } from '../config/types.js';
import type { Identity } from '../identity/types.js';
import type { AuditEventInput, AuditLog, InlineGate } from '../audit/index.js';
import type { ApprovalBroker } from '../approvals/index.js';
import type { Masker } from '../masking/index.js';
import type { SshPool } from '../upstream/ssh-pool.js';
import type { PolicySet } from './policy-set.js';
import type { LiveHub } from './live-hub.js';

/** Everything a channel handler needs; built once by the gateway. */
export interface GatewayDeps {
  config: Config;
  log: Logger;
  audit: AuditLog;
  /** Lets the durable writes of a quiet gateway run on the event loop (shared with the audit log). */
  inline: InlineGate;
  policies: PolicySet;
  pool: SshPool;
  broker: ApprovalBroker | null;
  maskerFor(target: TargetConfig): Masker | null;
  /** Live channels, so SIGTERM can wait for them and tests can count leaks. */
  live: Set<LiveChannel>;
  /** Watchers of running sessions (web console live view). */
  hub: LiveHub;
  /**
   * A channel's closing events (`command.result`, `shell.end`, `recording.sealed`) whose append
   * failed (a full or failing disk), by session: appended again, marked `late`, before the
   * session's end (keepUnlogged, gateway.ts).
   */
  unlogged: Map<string, AuditEventInput[]>;
}

export interface LiveChannel {
  session: string;
  done: Promise<void>;
  terminate(reason: string): void;
}

/** One authenticated agent connection. */
export interface ConnectionState {
  session: string;
  identity: Identity;
  target: TargetConfig;
  clientAddress: string;
  startedAt: number;
  nextChannel: number;
  openChannels: number;
}
