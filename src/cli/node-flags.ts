/**
 * The V8 flags a gateway process runs with. Node refuses them in NODE_OPTIONS, so every way of
 * starting the gateway passes them itself: the shebang of bin/shellgate.js, `npm start`, the
 * Dockerfile's entry point and the bench (test/cli/node-flags.test.ts checks all four).
 *
 * --initial-old-space-size=64: below 64 MiB of old generation, V8 skips full GCs (the flag
 * also sets the floor of the limit it recomputes after each one). Without it, a gateway with
 * a small heap relaying bulk output ran a mark-compact every ~12 MB relayed: ssh2 allocates a
 * buffer per packet each way, the external-memory scavenges promote a little each time, and
 * V8 starts marking whenever the old generation's headroom is no larger than the young one.
 * Measured (docs/benchmarks.md, session 10): the plain relay's CPU per MB fell from 3.5–4.6
 * to 1.7–2.5 ms, most of it the concurrent marking threads'. The cost is memory: up to 64 MiB
 * of heap before the first full collection.
 */
export const GATEWAY_NODE_FLAGS: readonly string[] = Object.freeze(['--initial-old-space-size=64']);
