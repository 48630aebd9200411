import type { Logger } from 'pino';
import { loadPolicyDir, type CompiledPolicy } from '../policy/index.js';
import { PolicyError } from '../errors.js';
import type { Config } from '../config/types.js';

/**
 * The policies in force. Reloaded on SIGHUP: a new set replaces the old one only if
 * every file compiles and every target's policy exists; otherwise the old set stays
 * and the reason is logged. Channels already deciding keep the policy they started with.
 */
export class PolicySet {
  private current: Map<string, CompiledPolicy>;
  generation = 0;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.current = this.loadChecked();
  }

  private loadChecked(): Map<string, CompiledPolicy> {
    const map = loadPolicyDir(this.config.policies);
    for (const t of Object.values(this.config.targets)) {
      if (!map.has(t.policy)) throw new PolicyError(`target ${t.name} uses policy ${t.policy}, which is not in ${this.config.policies}`);
    }
    return map;
  }

  get(name: string): CompiledPolicy {
    const p = this.current.get(name);
    if (!p) throw new PolicyError(`no policy named ${name}`);
    return p;
  }

  reload(): boolean {
    try {
      this.current = this.loadChecked();
      this.generation++;
      this.log.info({ policies: [...this.current.keys()], generation: this.generation }, 'policies reloaded');
      return true;
    } catch (err) {
      this.log.error({ err: (err as Error).message }, 'policy reload failed: keeping the previous policies');
      return false;
    }
  }
}
