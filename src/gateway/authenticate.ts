import type { AuthContext, KeyboardAuthContext } from 'ssh2';
import type { Logger } from 'pino';
import type { Config, TargetConfig } from '../config/types.js';
import { TokenRejectedError } from '../errors.js';
import { TicketStore } from '../identity/tickets.js';
import type { TokenVerifier } from '../identity/verify-token.js';
import type { Identity } from '../identity/types.js';
import type { FailureLimiter } from './rate-limit.js';

export const TOKEN_PROMPT = 'OIDC token: ';

export interface AuthDeps {
  config: Config;
  log: Logger;
  verifier: TokenVerifier;
  tickets: TicketStore;
  limiter: FailureLimiter;
}

/**
 * SSH user authentication (RFC 4252) by keyboard-interactive (RFC 4256) only: one prompt,
 * echo off, answered with a JWT or a one-time ticket. The SSH user name is the target.
 * Refusals carry a one-line reason in the instruction field, which OpenSSH prints, so an
 * agent learns why (expired token, unknown target) without the gateway revealing more.
 */
export function authenticate(
  deps: AuthDeps,
  ctx: AuthContext,
  clientAddress: string,
  onSuccess: (identity: Identity, target: TargetConfig) => void,
): void {
  const { log, config } = deps;
  if (ctx.method !== 'keyboard-interactive') {
    ctx.reject(['keyboard-interactive']);
    return;
  }
  const kctx = ctx as KeyboardAuthContext;
  const refuse = (reason: string, tellAgent: string) => {
    deps.limiter.fail(clientAddress);
    log.warn({ client: clientAddress, target: ctx.username, reason }, 'login failed');
    // A second info request with no prompts carries the reason to the client (RFC 4256 §3.2).
    kctx.prompt([], 'shellgate', `shellgate: ${tellAgent}`, () => kctx.reject(['keyboard-interactive']));
  };
  if (deps.limiter.blocked(clientAddress)) {
    log.warn({ client: clientAddress, target: ctx.username, reason: 'rate limited' }, 'login failed');
    ctx.reject();
    return;
  }
  kctx.prompt([{ prompt: TOKEN_PROMPT, echo: false }], (answers) => {
    const answer = (answers?.[0] ?? '').trim();
    void (async () => {
      let identity: Identity;
      try {
        if (TicketStore.looksLikeTicket(answer)) {
          const id = deps.tickets.redeem(answer);
          if (!id) throw new TokenRejectedError('ticket unknown, used or expired');
          identity = id;
        } else {
          identity = await deps.verifier.verify(answer);
        }
      } catch (err) {
        const reason = err instanceof TokenRejectedError ? err.message : 'token verification failed';
        if (!(err instanceof TokenRejectedError)) log.error({ err: (err as Error).message }, 'token verification error');
        refuse(reason, `token rejected: ${reason}`);
        return;
      }
      const target = Object.hasOwn(config.targets, ctx.username) ? config.targets[ctx.username] : undefined;
      if (!target) {
        refuse(`unknown target ${JSON.stringify(ctx.username.slice(0, 64))}`, `unknown target ${JSON.stringify(ctx.username.slice(0, 64))}`);
        return;
      }
      log.info({ client: clientAddress, target: target.name, subject: identity.subject, via: identity.via }, 'login accepted');
      onSuccess(identity, target);
      ctx.accept();
    })();
  });
}
