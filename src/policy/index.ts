/** The command policy engine: parse a command line with a bash grammar, decide it against a policy. */
export { initPolicyEngine } from './grammar.js';
export { loadPolicyFile, loadPolicyDir } from './load-policy.js';
export { decideLine } from './decide-line.js';
export type {
  CommandDecision,
  CompiledPolicy,
  DecideContext,
  Decision,
  LineDecision,
  RuleInfo,
} from './types.js';
