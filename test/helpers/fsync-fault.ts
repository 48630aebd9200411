/**
 * fsync(2) and fdatasync(2) that fail with EIO on chosen files, in a child process: the
 * LD_PRELOAD library built from `fsync-fault.c` (see there). A failing disk reports its errors
 * at fsync, after writes that succeeded; a full disk (tested elsewhere) fails the write itself.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { repoRoot } from './paths.js';
import { tempDir } from './tmp.js';

export interface FsyncFault {
  /** Environment for the child process: LD_PRELOAD and the control file. */
  env: { LD_PRELOAD: string; SG_FSYNC_FAULT_CTL: string };
  /**
   * On files whose path contains `match` (no spaces): let the next `skip` fsync/fdatasync calls
   * pass, then fail `count`.
   */
  arm(match: string, count?: number, skip?: number): void;
  /** Calls still to fail. */
  pending(): number;
  /** The paths on which a call failed so far, in order. */
  fired(): string[];
  cleanup(): void;
}

/** Build the library (with the system's C compiler, as node-gyp uses) into a fresh folder. */
export function fsyncFault(): FsyncFault {
  const t = tempDir('shellgate-fsync-fault-');
  const lib = path.join(t.dir, 'fsync-fault.so');
  const ctl = path.join(t.dir, 'ctl');
  execFileSync('cc', ['-shared', '-fPIC', '-O1', '-Wall', '-Werror', '-o', lib, path.join(repoRoot, 'test', 'helpers', 'fsync-fault.c'), '-ldl', '-lpthread']);
  return {
    env: { LD_PRELOAD: lib, SG_FSYNC_FAULT_CTL: ctl },
    arm(match, count = 1, skip = 0) {
      if (/\s/.test(match) || match === '') throw new TypeError('fsync fault: the match must be non-empty, without spaces');
      writeFileSync(ctl, `${skip} ${count} ${match}\n`);
    },
    pending() {
      return existsSync(ctl) ? Number(readFileSync(ctl, 'utf8').split(' ')[1]) : 0;
    },
    fired() {
      const log = ctl + '.log';
      return existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
    },
    cleanup: t.cleanup,
  };
}
