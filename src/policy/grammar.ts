import { createRequire } from 'node:module';
import { Parser, Language } from 'web-tree-sitter';

/** The bash grammar is loaded once per process; parsing is synchronous afterwards. */
let parser: Parser | null = null;
let loading: Promise<void> | null = null;

/** Loads web-tree-sitter and the tree-sitter-bash grammar. Idempotent; concurrent calls share one load. */
export function initPolicyEngine(): Promise<void> {
  if (parser) return Promise.resolve();
  loading ??= (async () => {
    const require = createRequire(import.meta.url);
    await Parser.init();
    const lang = await Language.load(require.resolve('tree-sitter-bash/tree-sitter-bash.wasm'));
    const p = new Parser();
    p.setLanguage(lang);
    parser = p;
  })().catch((err: unknown) => {
    loading = null;
    throw err;
  });
  return loading;
}

/** The shared parser. Throws a TypeError (programmer error) when initPolicyEngine() was not awaited. */
export function bashParser(): Parser {
  if (!parser) throw new TypeError('policy engine not initialised: await initPolicyEngine() first');
  return parser;
}
