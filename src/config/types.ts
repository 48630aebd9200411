/** The validated, frozen configuration. Every path is absolute (resolved against the config file's folder). */
import type { SshAlgorithms } from './ssh-algorithms.js';

export interface Config {
  readonly file: string;
  readonly listen: { readonly ssh: HostPort; readonly http: HostPort | null };
  readonly hostKey: string;
  readonly store: string;
  /** Folder of the store file: the dev issuer's and the audit signing keys live here. */
  readonly dataDir: string;
  readonly recordings: string;
  readonly policies: string;
  readonly logLevel: string;
  readonly identity: {
    readonly issuers: readonly IssuerConfig[];
    readonly devIssuer: boolean;
  };
  readonly vault: { readonly masterKey: Buffer | null; readonly file: string };
  readonly targets: Readonly<Record<string, TargetConfig>>;
  readonly approvals: {
    readonly timeoutMs: number;
    readonly webhooks: readonly { readonly url: string; readonly secret: string }[];
    /** Base URL used in webhook approve/deny links; defaults to http://<listen.http>. */
    readonly publicUrl: string | null;
  };
  readonly audit: {
    readonly checkpointEvery: number;
    readonly checkpointIntervalMs: number;
    readonly witness: string | null;
    readonly witnessUrl: string | null;
    readonly recordInput: boolean;
  };
  readonly masking: { readonly idleMs: number; readonly enabled: boolean };
  readonly recording: { readonly enabled: boolean };
  readonly web: {
    readonly adminToken: string | null;
    /** Console sign-in (OpenID Connect authorization code + PKCE); null disables browser sign-in. */
    readonly oidc: {
      readonly issuer: string;
      readonly clientId: string;
      readonly clientSecret: string | null;
      /** Where the provider sends the browser back; default http://<listen.http>/auth/callback. */
      readonly redirectUri: string | null;
      readonly groupsClaim: string;
    } | null;
    /** Group names (from the groups claim) that grant each console role. */
    readonly roles: { readonly auditor: readonly string[]; readonly approver: readonly string[]; readonly admin: readonly string[] };
    readonly sessionTtlMs: number;
  };
  /** Both SSH hops (agents and upstream): null for ssh2's default list. */
  readonly sshAlgorithms: SshAlgorithms;
  readonly limits: {
    readonly maxChannelsPerConnection: number;
    readonly upstreamIdleMs: number;
    readonly authAttemptsPerMinute: number;
  };
}

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface IssuerConfig {
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUri: string | null;
  readonly groupsClaim: string;
}

export type TargetConfig = SshTargetConfig | LocalTargetConfig;

interface TargetCommon {
  readonly name: string;
  readonly policy: string;
  readonly allowForwarding: boolean;
  readonly allowAgentForwarding: boolean;
  readonly allowX11: boolean;
  readonly allowSubsystems: readonly string[];
  /** Environment variables an agent may set with `env` requests (RFC 4254 §6.4). */
  readonly envAllow: readonly string[];
}

export interface SshTargetConfig extends TargetCommon {
  readonly kind: 'ssh';
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly credential: string;
  readonly hostKey: string;
  readonly maxChannelsPerConnection: number;
}

export interface LocalTargetConfig extends TargetCommon {
  readonly kind: 'local';
  readonly shell: string;
  readonly cwd: string | null;
}
