/**
 * Shell glob → RegExp for pattern words: `*` any characters except `/`, `**` any characters
 * including `/`, `?` one character except `/`, `[…]` a class (`[!…]` negated).
 */
export function globToRegExp(glob: string, opts: { slashes?: boolean } = {}): RegExp {
  const star = opts.slashes ? '.*' : '[^/]*';
  const one = opts.slashes ? '.' : '[^/]';
  let re = '^';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        re += '.*';
        while (glob[i + 1] === '*') i++;
      } else re += star;
    } else if (c === '?') re += one;
    else if (c === '[') {
      const end = glob.indexOf(']', i + 2);
      if (end < 0) {
        re += '\\[';
        continue;
      }
      let body = glob.slice(i + 1, end);
      let neg = false;
      if (body[0] === '!' || body[0] === '^') {
        neg = true;
        body = body.slice(1);
      }
      re += '[' + (neg ? '^' : '') + body.replace(/[\\\]^]/g, (m) => '\\' + m) + ']';
      i = end;
    } else re += c.replace(/[.+^${}()|\\/\]]/g, (m) => '\\' + m);
  }
  return new RegExp(re + '$', 'su');
}

export function hasGlob(s: string): boolean {
  return /[*?]|\[[^\]]+\]/.test(s);
}
