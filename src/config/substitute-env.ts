import { ConfigError } from '../errors.js';

/**
 * Replace `${NAME}` in every string value. An unset variable is a config error
 * that names the option path (and the variable, never its value).
 */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv, file: string, at = ''): unknown {
  if (typeof value === 'string') {
    return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_m, name: string) => {
      const v = env[name];
      if (v === undefined) throw new ConfigError(file, at, `environment variable ${name} is not set`);
      return v;
    });
  }
  if (Array.isArray(value)) return value.map((v, i) => substituteEnv(v, env, file, `${at}[${i}]`));
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = substituteEnv(v, env, file, at ? `${at}.${k}` : k);
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
