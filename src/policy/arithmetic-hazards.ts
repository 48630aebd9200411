import type { Node } from 'web-tree-sitter';

/**
 * Bash evaluates a variable named in an arithmetic context as an expression in turn, and a
 * subscript in that value expands command substitutions: `x='a[$(id)]'; echo $((x))` runs
 * `id`, although no `$(` is on the line. The same holds for `(( ))`, `for (( ))`, array
 * subscripts (`${a[y]}`, `a[y]=1`), substring offsets (`${z:y}`), indirection (`${!x}`) and the
 * arithmetic tests of `[[ ]]` (`-eq` …). The value is not known statically, so any of these
 * that names a variable is unanalyzable; plain numbers (`$((16#ff + 1))`) are fine.
 */
export function arithmeticHazard(root: Node): string | null {
  for (const n of root.descendantsOfType(TYPES)) {
    if (!n) continue;
    const why = hazard(n);
    if (why) return `${why} naming a variable (bash evaluates its value, which may run commands)`;
  }
  return null;
}

const TYPES = ['arithmetic_expansion', 'compound_statement', 'c_style_for_statement', 'expansion', 'subscript', 'test_command'];
const ARITH_TEST = /(?:^|\s)-(?:eq|ne|lt|le|gt|ge)(?:\s|$)/;

function hazard(n: Node): string | null {
  const t = n.text;
  switch (n.type) {
    case 'arithmetic_expansion':
      return namesVariable(t.replace(/^\$\(\(|\)\)$|^\$\[|\]$/g, '')) ? 'arithmetic expansion' : null;
    case 'compound_statement':
      return t.startsWith('((') && namesVariable(t.slice(2, -2)) ? 'arithmetic command' : null;
    case 'c_style_for_statement': {
      const body = n.childForFieldName('body');
      const head = (body ? t.slice(0, body.startIndex - n.startIndex) : t).replace(/^for\s*\(\(|\)\)[\s;]*$/g, '');
      // `for ((i=0; i<n; i++))`: a counter set to a number by the loop itself is a number.
      const init = head.split(';')[0] ?? '';
      const counters = new Set([...init.matchAll(/(?:^|,)\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:0[xX][0-9A-Fa-f]+|[0-9]+)\s*(?=,|$)/g)].map((m) => m[1]!));
      // ... unless the body could set it (`i=…`, `read i`): there it may only be read, as $i or ${i}.
      const bodyText = body?.text ?? '';
      for (const c of counters) if (new RegExp(`(?<![$\\w{])${c}(?!\\w)`).test(bodyText)) counters.delete(c);
      return namesVariable(head, counters) ? 'arithmetic for loop' : null;
    }
    case 'subscript': {
      const index = n.childForFieldName('index');
      const i = index ? index.text : t.slice(t.indexOf('[') + 1, t.lastIndexOf(']'));
      return i !== '@' && i !== '*' && namesVariable(i) ? 'array subscript' : null;
    }
    case 'expansion': {
      if (/^\$\{!/.test(t)) return 'indirect expansion';
      // ${name:offset[:length]} (not the :- := :+ :? operators): offset and length are arithmetic.
      const m = /^\$\{(?:[A-Za-z_][A-Za-z0-9_]*|[0-9]+|[@*#?$!-])(\[[^\]]*\])?:(?![-=+?])([\s\S]*)\}$/.exec(t);
      if (m && namesVariable(m[2]!)) return 'substring offset';
      const s = /^\$\{[A-Za-z_][A-Za-z0-9_]*\[([^\]]*)\]/.exec(t);
      if (s && s[1] !== '@' && s[1] !== '*' && namesVariable(s[1]!)) return 'array subscript';
      return null;
    }
    case 'test_command':
      return t.startsWith('[[') && ARITH_TEST.test(t) && namesVariable(t.slice(2, -2).replace(/(?:^|\s)-(?:eq|ne|lt|le|gt|ge)(?=\s|$)|&&|\|\||!/g, ' '))
        ? 'arithmetic test'
        : null;
    default:
      return null;
  }
}

/** Whether arithmetic text names a variable (a letter or `_` outside a number literal, or `$`), other than `known` ones. */
export function namesVariable(expr: string, known: ReadonlySet<string> = new Set()): boolean {
  let rest = expr.replace(/(?<![A-Za-z0-9_])(?:0[xX][0-9A-Fa-f]+|[0-9]+#[0-9A-Za-z@_]+|[0-9]+)(?![A-Za-z0-9_])/g, ' ');
  if (known.size > 0) rest = rest.replace(/[A-Za-z_][A-Za-z0-9_]*/g, (name) => (known.has(name) ? ' ' : name));
  return /[A-Za-z_$`]/.test(rest);
}
