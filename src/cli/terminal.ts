import readline from 'node:readline';
import { stripVTControlCharacters } from 'node:util';

export interface PrintedLine {
  row: number;
  rows: number;
}

/**
 * The chat commands' screen: in a TTY, incoming lines are printed above the prompt without
 * garbling what the user is typing; otherwise (scripts, tests) it is plain line in, line out.
 */
export class Terminal {
  readonly interactive: boolean;
  private readonly rl: readline.Interface;
  private closed = false;
  /** Screen rows printed above the prompt so far, to find a printed line again. */
  private rowsPrinted = 0;

  constructor(
    private readonly input: NodeJS.ReadableStream = process.stdin,
    private readonly output: NodeJS.WriteStream = process.stdout,
    private readonly promptText = '> ',
  ) {
    this.interactive = Boolean((input as NodeJS.ReadStream).isTTY && output.isTTY);
    this.rl = readline.createInterface({ input, output, terminal: this.interactive, prompt: promptText });
    this.rl.on('close', () => (this.closed = true));
    // Ctrl-C leaves like /quit: what was typed still goes out (raw mode ends, so a second one kills).
    this.rl.on('SIGINT', () => this.close());
  }

  onLine(handler: (line: string) => void): void {
    this.rl.on('line', (line) => {
      // Enter leaves the typed line on screen above the next prompt.
      if (this.interactive) this.rowsPrinted += this.rowsOf(`${this.rl.getPrompt()}${line}`);
      handler(line);
      if (this.interactive && !this.closed) this.rl.prompt();
    });
  }

  onClose(handler: () => void): void {
    this.rl.on('close', handler);
  }

  /** Asks one question; in line mode it reads the next line. */
  ask(question: string): Promise<string> {
    return new Promise((resolve) => this.rl.question(question, resolve));
  }

  prompt(): void {
    if (this.interactive) this.rl.prompt();
  }

  /** Shows what the prompt is about (the open conversation): `alice → bob> `. */
  setContext(context: string | null): void {
    this.rl.setPrompt(
      context === null ? this.promptText : `${this.promptText.replace(/> $/, '')} → ${context}> `,
    );
    if (this.interactive && !this.closed) this.rl.prompt(true);
  }

  print(line: string): void {
    this.printTracked(line);
  }

  /** Prints a line and returns where it is, so that `update` can rewrite it in place. */
  printTracked(line: string): PrintedLine {
    const printed = { row: this.rowsPrinted, rows: this.rowsOf(line) };
    if (!this.interactive) {
      this.output.write(`${line}\n`);
      return printed;
    }
    readline.clearLine(this.output, 0);
    readline.cursorTo(this.output, 0);
    this.output.write(`${line}\n`);
    this.rowsPrinted += printed.rows;
    if (!this.closed) this.rl.prompt(true);
    return printed;
  }

  /**
   * Rewrites a printed line in place, if it is still on screen and keeps its height; false
   * otherwise (and always when not on a terminal), so the caller says it another way.
   */
  update(printed: PrintedLine, line: string): boolean {
    const up = this.rowsPrinted - printed.row;
    const screenRows = this.output.rows ?? 24;
    if (!this.interactive || this.closed || up >= screenRows - 1 || this.rowsOf(line) !== printed.rows)
      return false;
    // Save the cursor (it is in the prompt, maybe mid-word), rewrite the line, restore it.
    this.output.write('\x1b7');
    readline.moveCursor(this.output, 0, -up);
    readline.cursorTo(this.output, 0);
    readline.clearLine(this.output, 0);
    this.output.write(line);
    this.output.write('\x1b8');
    return true;
  }

  private rowsOf(line: string): number {
    const width = [...stripVTControlCharacters(line)].length;
    return Math.max(1, Math.ceil(width / (this.output.columns || 80)));
  }

  /** Colours only where a person is watching. */
  paint(code: number, text: string): string {
    return this.interactive ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  /**
   * Runs a seed client's session: typed lines go to `onLine`, closing the terminal hangs up, and
   * it resolves once the connection has closed (which also closes the terminal).
   */
  session(
    connection: { hangUp(): void; onClosed(callback: () => void): void },
    onLine: (line: string) => void,
  ): Promise<void> {
    this.prompt();
    return new Promise<void>((resolve) => {
      connection.onClosed(() => {
        this.print('* disconnected');
        this.close();
        resolve();
      });
      this.onClose(() => connection.hangUp());
      this.onLine(onLine);
    });
  }

  close(): void {
    this.rl.close();
    // readline lets go of the stream but a piped stdin still holds the process open until EOF.
    (this.input as NodeJS.ReadStream).destroy?.();
  }
}
