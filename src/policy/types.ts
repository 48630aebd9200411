export type Decision = 'allow' | 'deny' | 'approve';

export interface DecideContext {
  subject: string;
  groups: readonly string[];
  target: string;
}

export interface CommandDecision {
  argv: string[];
  decision: Decision;
  rule: string | null;
  reason: string;
  /** Per argv word: true when the word is not known statically. Present only when some word is unknown. */
  unknown?: boolean[];
}

export interface LineDecision {
  decision: Decision;
  rule: string | null;
  reason: string;
  commands: CommandDecision[];
}

export interface RuleInfo {
  id: string;
  decision: Decision;
  approvers: number;
  approverGroups: readonly string[];
  interactive: boolean;
}

export interface CompiledPolicy {
  readonly name: string;
  readonly file: string;
  /** sha256 (hex) of the file content. */
  readonly version: string;
  readonly default: 'deny' | 'approve';
  readonly unanalyzable: 'deny' | 'approve';
  readonly shell: 'guarded' | 'passthrough' | 'deny';
  readonly maxLineBytes: number;
  readonly masking: { readonly add: readonly string[]; readonly disable: readonly string[] };
  rule(id: string): RuleInfo | undefined;
}
