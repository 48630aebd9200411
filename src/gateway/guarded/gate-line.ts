import type { CompiledPolicy } from '../../policy/index.js';
import type { ConnectionState, GatewayDeps } from '../context.js';
import { gateLine as gate, type GateIO, type GateOutcome } from '../gate-line.js';
import { guardCommands, guardLineText } from './guard-line.js';

export type { GateIO, GateOutcome } from '../gate-line.js';

/**
 * One line typed at a guarded prompt: the guarded shell's own checks (they refuse lines that
 * would change the integration or that the shell would continue), then the same decision,
 * audit event and approval as an exec request, plus `line` and `mode: 'guarded'`.
 */
export function gateLine(
  deps: GatewayDeps,
  conn: ConnectionState,
  base: Record<string, unknown>,
  policy: CompiledPolicy,
  line: string,
  lineNo: number,
  prefix: string,
  maskText: (s: string) => string,
  io: GateIO,
): Promise<GateOutcome> {
  return gate(deps, conn, base, policy, line, maskText, io, {
    fields: { mode: 'guarded', line: lineNo },
    precheck: (l) => guardLineText(l, prefix),
    postcheck: (d) => guardCommands(d.commands),
    noun: 'line',
  });
}
