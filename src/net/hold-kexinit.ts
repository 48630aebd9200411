import type { Socket } from 'node:net';

/**
 * Called from ssh2's 'connection' event, which it emits on reading the client's identification
 * line and just before it writes its own KEXINIT: hold that KEXINIT until the client's next
 * bytes (its own KEXINIT) arrive, `maxHoldMs` at most.
 *
 * Why: written at once, our KEXINIT usually leaves before the client's KEXINIT arrives, so it
 * carries no ACK for it, and we then have nothing to send until the client's KEX_ECDH_INIT: the
 * kernel may delay that ACK (40 ms on Linux). OpenSSH's client leaves Nagle's algorithm on during
 * key exchange, so its KEX_ECDH_INIT, written while its KEXINIT is unacknowledged, waits for
 * that ACK. On loopback about one connection in two took 40 ms longer to set up (`ssh -vvv`: the
 * gap was between "send packet: type 30" and "receive packet: type 31"). Sent in answer to the
 * client's KEXINIT, ours carries the ACK.
 *
 * The cost is one one-way trip for clients that would not have stalled (Nagle off, or an ACK
 * sent at once). Measured here, the stall needs loopback's 64 KiB MTU: with the MTU at 1,500 it
 * never occurred in 40 connections (presumably because Linux ACKs a new connection's first
 * segments at once, for a number of segments that shrinks as the MSS grows). So the gateway
 * holds only for loopback peers, where the trip costs microseconds (see gateway.ts).
 *
 * Nothing is added to the SSH stream (strict KEX, the Terrapin countermeasure, forbids even an
 * SSH_MSG_IGNORE during the first key exchange) and nothing is reordered: writes are only
 * delayed. RFC 4253 §7.1 has each side send its KEXINIT without waiting for the other's; a
 * client that waits anyway gets ours after `maxHoldMs`.
 *
 * `peerIdentLength`: the client's identification line without its CR LF (ssh2's
 * `info.header.identRaw`). When the socket has already read more than that line, the client's
 * KEXINIT is here (in the chunk ssh2 is parsing) and nothing is held.
 */
export function holdKexinit(sock: Socket | undefined, peerIdentLength: number, maxHoldMs = 10): void {
  if (!sock || typeof sock.write !== 'function' || !Number.isInteger(peerIdentLength)) return;
  if (sock.bytesRead > peerIdentLength + 2) return;
  const write = sock.write;
  let held: unknown[][] | null = [];
  let timer: NodeJS.Timeout | undefined;
  const stop = () => {
    held = null;
    clearTimeout(timer);
    sock.removeListener('data', release);
    sock.removeListener('close', stop);
    sock.write = write;
  };
  function release(): void {
    if (held === null) return;
    const queue = held;
    stop();
    for (const args of queue) (write as (...a: unknown[]) => boolean).apply(sock, args);
  }
  sock.write = function (this: Socket, ...args: unknown[]): boolean {
    if (held === null) return (write as (...a: unknown[]) => boolean).apply(this, args);
    held.push(args);
    if (!timer) {
      timer = setTimeout(release, maxHoldMs);
      timer.unref();
    }
    return true;
  } as Socket['write'];
  // Runs before ssh2's own listener: our KEXINIT leaves before ssh2 parses the client's.
  sock.prependListener('data', release);
  sock.once('close', stop); // gone before the client's KEXINIT: nothing left to send
}
