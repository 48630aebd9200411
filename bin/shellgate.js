#!/usr/bin/env -S node --initial-old-space-size=64
import { main } from '../dist/src/cli/main.js';
main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (err) => { process.stderr.write(`shellgate: ${err && err.message ? err.message : String(err)}\n`); process.exitCode = 1; },
);
