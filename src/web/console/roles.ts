import type { Config } from '../../config/types.js';
import { HttpError, type AuthInfo, type RequestContext } from '../router.js';

export type Role = 'auditor' | 'approver' | 'admin';

/**
 * A caller's console roles: the admin token is admin; an OIDC identity (bearer JWT or console
 * sign-in) gets the roles whose configured groups it is in. Admin implies the other two.
 */
export function rolesFor(auth: AuthInfo | null, roles: Config['web']['roles']): Set<Role> {
  const out = new Set<Role>();
  if (!auth) return out;
  if (auth.kind === 'admin') return new Set<Role>(['admin', 'approver', 'auditor']);
  const has = (list: readonly string[]) => auth.groups.some((g) => list.includes(g));
  if (has(roles.admin)) return new Set<Role>(['admin', 'approver', 'auditor']);
  if (has(roles.approver)) out.add('approver');
  if (has(roles.auditor)) out.add('auditor');
  return out;
}

/** 401 without an identity, 403 without the role. */
export function requireRole(ctx: RequestContext, roles: Config['web']['roles'], role: Role): AuthInfo {
  if (!ctx.auth) throw new HttpError(401, 'authentication required');
  if (!rolesFor(ctx.auth, roles).has(role)) throw new HttpError(403, `the ${role} role is required`);
  return ctx.auth;
}

/** Reading the evidence: auditors, and approvers (who must see what they approve). */
export function requireReader(ctx: RequestContext, roles: Config['web']['roles']): AuthInfo {
  if (!ctx.auth) throw new HttpError(401, 'authentication required');
  const r = rolesFor(ctx.auth, roles);
  if (!r.has('auditor') && !r.has('approver')) throw new HttpError(403, 'the auditor or approver role is required');
  return ctx.auth;
}
