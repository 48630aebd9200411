import type { Socket } from 'node:net';

/**
 * Coalesce a socket's writes made in one tick into one writev. ssh2 writes every SSH packet
 * with its own `socket.write`, and an exec exchange writes several packets in the same tick
 * (exit-status, EOF and CLOSE; or a burst of relayed data packets). With TCP_NODELAY on, each
 * would otherwise be its own syscall and its own TCP segment. Order is unchanged; the writes
 * leave before any I/O callback of the next tick runs.
 */
export function coalesceWrites(sock: Socket | undefined): void {
  if (!sock || typeof sock.cork !== 'function') return;
  const write = sock.write;
  let corked = false;
  const uncork = () => {
    corked = false;
    sock.uncork();
  };
  sock.write = function (this: Socket, ...args: unknown[]): boolean {
    if (!corked && !sock.writableEnded) {
      corked = true;
      sock.cork();
      process.nextTick(uncork);
    }
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as Socket['write'];
}
