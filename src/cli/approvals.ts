import { userInfo } from 'node:os';
import path from 'node:path';
import { localBackend, remoteBackend, type ApprovalsBackend } from '../approvals/cli-backend.js';
import { isValidApproverName, isValidReason } from '../approvals/approver-name.js';
import { describeRequest, resultLine, runApprovalPrompt } from '../approvals/prompt.js';
import { normalizeApprovalId } from '../approvals/new-id.js';
import { UsageError } from '../errors.js';
import { configFromFlag } from './config-flag.js';
import { parseFlags, print, type CliIO } from './io.js';

export const help = `usage:
  shellgate approvals [SOURCE] [--as NAME] [--group G]…          interactive approver prompt
  shellgate approvals list [SOURCE] [--json]                     pending requests
  shellgate approvals approve|deny ID [SOURCE] [--as NAME] [--group G]… [--reason R]

SOURCE (one of):
  --config FILE        the gateway's config; its store is used (default ./shellgate.yaml)
  --db FILE            the store file directly
  --url URL            a running gateway's API, with a bearer token from the environment
  --token-env NAME     variable holding that token (default SHELLGATE_ADMIN_TOKEN, then SHELLGATE_TOKEN)

Locally (through the store) a decision is recorded as --as NAME (default: your OS user name) and
counts as authenticated: whoever can write the store is an operator of the gateway. For rules with
approverGroups, give the approver's groups with --group (repeatable). Remotely, the admin token may
pass --as/--group; an OIDC token decides as its own subject and groups.

The prompt shows each pending request (who, target, command, rule, time left) and takes
y/a approve, n/d deny (then an optional reason), s skip, q quit.
Exit status: 0 done, 1 refused (own request, unknown id, already decided, wrong group), 2 usage.`;

const FLAGS = {
  config: { type: 'string' },
  db: { type: 'string' },
  url: { type: 'string' },
  'token-env': { type: 'string' },
  as: { type: 'string' },
  group: { type: 'string', multiple: true },
  reason: { type: 'string' },
  json: { type: 'boolean' },
} as const;

function osUser(env: NodeJS.ProcessEnv): string {
  try {
    return userInfo().username;
  } catch {
    return env.USER ?? env.LOGNAME ?? 'operator';
  }
}

function openBackend(values: ReturnType<typeof parseFlags<typeof FLAGS>>['values'], io: CliIO): ApprovalsBackend {
  const groups = values.group ?? [];
  for (const g of groups) if (!isValidApproverName(g)) throw new UsageError('--group: not a valid group name');
  if (values.as !== undefined && !isValidApproverName(values.as)) throw new UsageError('--as: not a valid name');
  if (values.url !== undefined) {
    if (values.db !== undefined || values.config !== undefined) throw new UsageError('--url cannot be combined with --db or --config');
    let u: URL;
    try {
      u = new URL(values.url);
    } catch {
      throw new UsageError('--url: not a URL');
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError('--url must be http or https');
    const names = values['token-env'] !== undefined ? [values['token-env']] : ['SHELLGATE_ADMIN_TOKEN', 'SHELLGATE_TOKEN'];
    const name = names.find((n) => io.env[n]);
    if (!name) throw new UsageError(`--url needs a bearer token in ${names.join(' or ')}`);
    return remoteBackend(values.url, io.env[name]!, values.as ?? null, groups);
  }
  if (values.db !== undefined && values.config !== undefined) throw new UsageError('give --db or --config, not both');
  const store = values.db !== undefined ? path.resolve(io.cwd, values.db) : configFromFlag(values.config, io, { secrets: 'optional' }).store;
  return localBackend(store, values.as ?? osUser(io.env), groups);
}

export async function run(argv: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseFlags(argv, FLAGS);
  const sub = positionals[0];
  if (sub !== undefined && sub !== 'list' && sub !== 'approve' && sub !== 'deny') {
    throw new UsageError(`unknown subcommand '${sub}' (list, approve, deny, or none for the prompt)`);
  }
  if (values.reason !== undefined && !isValidReason(values.reason)) throw new UsageError('--reason: one line, at most 1000 characters');
  if ((sub === 'approve' || sub === 'deny') && positionals.length !== 2) throw new UsageError(`usage: shellgate approvals ${sub} ID`);
  if ((sub === undefined || sub === 'list') && positionals.length > (sub ? 1 : 0)) throw new UsageError('unexpected argument');
  if (values.json && sub !== 'list') throw new UsageError('--json is for approvals list');
  if (values.reason !== undefined && sub !== 'approve' && sub !== 'deny') throw new UsageError('--reason is for approve and deny');

  const backend = openBackend(values, io);
  try {
    if (sub === 'list') {
      const pending = await backend.list();
      if (values.json) print(io.stdout, JSON.stringify(pending, null, 2));
      else if (pending.length === 0) print(io.stdout, 'no pending approval requests');
      else for (const r of pending) print(io.stdout, describeRequest(r));
      return 0;
    }
    if (sub === 'approve' || sub === 'deny') {
      const id = normalizeApprovalId(positionals[1]!);
      const r = await backend.decide(id, sub, values.reason);
      const pending = r.status === 'pending' ? (await backend.list()).find((p) => p.id === id) : undefined;
      const as = backend.approver ? ` (as ${backend.approver})` : '';
      print(io.stdout, resultLine(id, sub, r.status, pending?.approvers ?? 1, r.applied) + as);
      return 0;
    }
    return await runApprovalPrompt(backend, io);
  } finally {
    backend.close();
  }
}
