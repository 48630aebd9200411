/**
 * The gateway's own line editor, active while the shell is at its prompt: the agent's keys
 * edit a local buffer and are echoed locally; nothing reaches the shell until Enter, and then
 * only if the gate allows the whole line. Control characters never enter the buffer.
 */
export type EditorEvent =
  | { kind: 'line'; line: string }
  | { kind: 'interrupt' }
  | { kind: 'eof' }
  | { kind: 'paste-refused' };

const MAX_HISTORY = 200;
/** Longest paste kept; the line limit itself is enforced when the line is decided. */
const MAX_BUFFER = 65536;

export class LineEditor {
  private chars: string[] = [];
  private cursor = 0;
  private readonly history: string[] = [];
  private histPos = 0;
  private esc = '';
  private paste: string[] | null = null;
  private lastWasCR = false;

  /** Feed agent input; echo goes to `echo`, completed actions are returned in order. */
  feed(data: string, echo: (s: string) => void): { events: EditorEvent[]; rest: string } {
    const events: EditorEvent[] = [];
    const cps = [...data];
    for (let i = 0; i < cps.length; i++) {
      const c = cps[i]!;
      if (this.esc) {
        this.esc += c;
        if (this.escDone()) this.runEscape(echo);
        continue;
      }
      if (this.paste) {
        this.paste.push(c);
        const tail = this.paste.slice(-6).join('');
        if (tail === '\x1b[201~') {
          const text = this.paste.slice(0, -6).join('');
          this.paste = null;
          // A paste is one edit: several lines at once are refused, never split and sent one by one.
          if (/[\r\n]/.test(text)) events.push({ kind: 'paste-refused' });
          else this.insert([...text].filter(printable).join(''), echo);
        } else if (this.paste.length > MAX_BUFFER) {
          this.paste = null;
          events.push({ kind: 'paste-refused' });
        }
        continue;
      }
      const wasCR = this.lastWasCR;
      this.lastWasCR = c === '\r';
      if (c === '\r' || c === '\n') {
        if (c === '\n' && wasCR) continue;
        const line = this.chars.join('');
        echo(this.moveTo(this.chars.length) + '\r\n');
        this.reset();
        events.push({ kind: 'line', line });
        // Stop here: what follows is typed after this line and waits for its outcome.
        return { events, rest: cps.slice(i + 1).join('') };
      }
      switch (c) {
        case '\x03':
          echo(this.moveTo(this.chars.length) + '^C\r\n');
          this.reset();
          events.push({ kind: 'interrupt' });
          return { events, rest: cps.slice(i + 1).join('') };
        case '\x04':
          if (this.chars.length === 0) {
            events.push({ kind: 'eof' });
            return { events, rest: '' };
          }
          this.deleteAt(this.cursor, echo);
          break;
        case '\x7f':
        case '\x08':
          if (this.cursor > 0) {
            this.cursor--;
            this.deleteAt(this.cursor, echo, true);
          }
          break;
        case '\x15': // Ctrl-U: kill to the start
          this.cutTo(0, echo);
          break;
        case '\x17': {
          // Ctrl-W: the word before the cursor
          let j = this.cursor;
          while (j > 0 && this.chars[j - 1] === ' ') j--;
          while (j > 0 && this.chars[j - 1] !== ' ') j--;
          this.cutTo(j, echo);
          break;
        }
        case '\x01':
          echo(this.moveTo(0));
          break;
        case '\x05':
          echo(this.moveTo(this.chars.length));
          break;
        case '\x1b':
          this.esc = c;
          break;
        default:
          if (printable(c)) this.insert(c === '\t' ? ' ' : c, echo);
      }
    }
    return { events, rest: '' };
  }

  /** Remember an allowed line (for the up/down arrows). */
  remember(line: string): void {
    this.histPos = this.history.length;
    if (!line.trim() || this.history[this.history.length - 1] === line) return;
    this.history.push(line);
    if (this.history.length > MAX_HISTORY) this.history.shift();
    this.histPos = this.history.length;
  }

  /** Forget the current buffer (the prompt is redrawn after this). */
  reset(): void {
    this.chars = [];
    this.cursor = 0;
    this.histPos = this.history.length;
    this.esc = '';
  }

  private escDone(): boolean {
    const s = this.esc;
    if (s.length === 2) return s[1] !== '[' && s[1] !== 'O';
    if (s[1] === 'O') return s.length >= 3;
    // CSI: parameters then a final byte 0x40–0x7e
    const last = s.charCodeAt(s.length - 1);
    return (last >= 0x40 && last <= 0x7e) || s.length > 32;
  }

  private runEscape(echo: (s: string) => void): void {
    const s = this.esc;
    this.esc = '';
    if (s === '\x1b[200~') {
      this.paste = [];
      return;
    }
    const key = s.replace(/^\x1b[[O]/, '');
    if (key === 'D') echo(this.moveTo(Math.max(0, this.cursor - 1)));
    else if (key === 'C') echo(this.moveTo(Math.min(this.chars.length, this.cursor + 1)));
    else if (key === 'H' || key === '1~') echo(this.moveTo(0));
    else if (key === 'F' || key === '4~') echo(this.moveTo(this.chars.length));
    else if (key === '3~') this.deleteAt(this.cursor, echo);
    else if (key === 'A' || key === 'B') {
      const pos = key === 'A' ? Math.max(0, this.histPos - 1) : Math.min(this.history.length, this.histPos + 1);
      if (pos === this.histPos) return;
      this.histPos = pos;
      this.replace([...(this.history[pos] ?? '')], echo);
    }
    // Anything else (function keys, mouse, queries) is ignored: never inserted, never forwarded.
  }

  private insert(text: string, echo: (s: string) => void): void {
    const add = [...text];
    if (!add.length || this.chars.length + add.length > MAX_BUFFER) return;
    const tail = this.chars.slice(this.cursor);
    this.chars.splice(this.cursor, 0, ...add);
    this.cursor += add.length;
    echo(add.join('') + (tail.length ? tail.join('') + back(tail.length) : ''));
  }

  private deleteAt(at: number, echo: (s: string) => void, movedLeft = false): void {
    if (at >= this.chars.length) {
      if (movedLeft) echo('\b');
      return;
    }
    this.chars.splice(at, 1);
    const tail = this.chars.slice(at);
    echo((movedLeft ? '\b' : '') + tail.join('') + ' ' + back(tail.length + 1));
  }

  private cutTo(to: number, echo: (s: string) => void): void {
    if (to >= this.cursor) return;
    const removed = this.cursor - to;
    this.chars.splice(to, removed);
    const tail = this.chars.slice(to);
    echo(back(removed) + tail.join('') + ' '.repeat(removed) + back(tail.length + removed));
    this.cursor = to;
  }

  private replace(next: string[], echo: (s: string) => void): void {
    const old = this.chars.length;
    let out = back(this.cursor) + next.join('');
    if (old > next.length) out += ' '.repeat(old - next.length) + back(old - next.length);
    this.chars = next;
    this.cursor = next.length;
    echo(out);
  }

  private moveTo(pos: number): string {
    const out = pos < this.cursor ? back(this.cursor - pos) : this.chars.slice(this.cursor, pos).join('');
    this.cursor = pos;
    return out;
  }
}

function back(n: number): string {
  return n > 0 ? '\b'.repeat(n) : '';
}

function printable(c: string): boolean {
  const code = c.codePointAt(0)!;
  if (c === '\t') return true;
  return code >= 0x20 && code !== 0x7f && !(code >= 0x80 && code < 0xa0);
}
