import { ConfigError } from '../errors.js';

/** Marks a value left out: its variable is unset and `spare` allowed that. */
const SPARED = Symbol('spared');

/**
 * Replace `${NAME}` in every string value. An unset variable is a config error
 * that names the option path (and the variable, never its value), except at the option paths
 * `spare` accepts: those options are left out, as if not written.
 */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, file: string, at = '', spare?: (at: string) => boolean): unknown {
  const v = substitute(value, env, file, at, spare);
  return v === SPARED ? undefined : v;
}

function substitute(value: unknown, env: NodeJS.ProcessEnv, file: string, at: string, spare: ((at: string) => boolean) | undefined): unknown {
  if (typeof value === 'string') {
    let spared = false;
    const out = value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = env[name];
      if (v !== undefined) return v;
      if (spare?.(at)) {
        spared = true;
        return '';
      }
      throw new ConfigError(file, at, `environment variable ${name} is not set`);
    });
    return spared ? SPARED : out;
  }
  if (Array.isArray(value)) return value.map((v, i) => substitute(v, env, file, `${at}[${i}]`, spare));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const sub = substitute(v, env, file, at ? `${at}.${k}` : k, spare);
      if (sub === SPARED) continue;
      out[k] = sub;
      if (typeof v === 'string' && out[k] !== v) {
        let keys = SUBSTITUTED.get(out);
        if (!keys) SUBSTITUTED.set(out, (keys = new Set()));
        keys.add(k);
      }
    }
    return out;
  }
  return value;
}

/** The keys of each substituted mapping whose values came from the environment. */
const SUBSTITUTED = new WeakMap<object, Set<string>>();

/**
 * Whether `obj[key]` came from `${NAME}`: an environment variable is always text, so a
 * number or boolean option given as `${PORT}` is read from that text (and only then: a
 * quoted number written in the file stays a type error).
 */
export function fromEnvironment(obj: object, key: string): boolean {
  return SUBSTITUTED.get(obj)?.has(key) ?? false;
}
