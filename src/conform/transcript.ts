/** Makes every byte readable on one line: LF, CR, NUL and other controls become escapes. */
export function visible(text: string): string {
  return text.replace(/[^\x20-\x7e\u0080-\uffff]|\\/g, (char) => {
    switch (char) {
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      case '\u0000':
        return '\\0';
      case '\\':
        return '\\\\';
      default:
        return `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`;
    }
  });
}

type Direction = 'sent' | 'received' | 'note';

interface Entry {
  atMs: number;
  who: string;
  direction: Direction;
  text: string;
}

const ARROWS: Record<Direction, string> = { sent: '->', received: '<-', note: '..' };
const MAX_ENTRIES = 200;
const MAX_ENTRY_CHARS = 600;

/** The wire log of one case: what each of its connections sent and received, in order. */
export class Transcript {
  private readonly entries: Entry[] = [];
  private readonly startedAt = Date.now();

  sent(who: string, bytes: Buffer | string): void {
    this.add(who, 'sent', bytes);
  }

  received(who: string, bytes: Buffer | string): void {
    this.add(who, 'received', bytes);
  }

  note(who: string, text: string): void {
    this.entries.push({ atMs: Date.now() - this.startedAt, who, direction: 'note', text });
  }

  get length(): number {
    return this.entries.length;
  }

  render(): string {
    const rows = this.entries.slice(-MAX_ENTRIES).map((entry) => {
      const time = `${String(entry.atMs).padStart(5)}ms`;
      const body = entry.direction === 'note' ? entry.text : `"${visible(entry.text)}"`;
      const cut = body.length > MAX_ENTRY_CHARS ? `${body.slice(0, MAX_ENTRY_CHARS)}...` : body;
      return `${time} ${entry.who} ${ARROWS[entry.direction]} ${cut}`;
    });
    if (this.entries.length > MAX_ENTRIES)
      rows.unshift(`(${this.entries.length - MAX_ENTRIES} earlier lines left out)`);
    return rows.join('\n');
  }

  private add(who: string, direction: Direction, bytes: Buffer | string): void {
    const text = typeof bytes === 'string' ? bytes : bytes.toString('utf8');
    this.entries.push({ atMs: Date.now() - this.startedAt, who, direction, text });
  }
}
