import readline from 'node:readline';

/**
 * The chat commands' screen: in a TTY, incoming lines are printed above the prompt without
 * garbling what the user is typing; otherwise (scripts, tests) it is plain line in, line out.
 */
export class Terminal {
  readonly interactive: boolean;
  private readonly rl: readline.Interface;
  private closed = false;

  constructor(
    private readonly input: NodeJS.ReadableStream = process.stdin,
    private readonly output: NodeJS.WriteStream = process.stdout,
    promptText = '> ',
  ) {
    this.interactive = Boolean((input as NodeJS.ReadStream).isTTY && output.isTTY);
    this.rl = readline.createInterface({ input, output, terminal: this.interactive, prompt: promptText });
    this.rl.on('close', () => (this.closed = true));
  }

  onLine(handler: (line: string) => void): void {
    this.rl.on('line', (line) => {
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

  print(line: string): void {
    if (!this.interactive) {
      this.output.write(`${line}\n`);
      return;
    }
    readline.clearLine(this.output, 0);
    readline.cursorTo(this.output, 0);
    this.output.write(`${line}\n`);
    if (!this.closed) this.rl.prompt(true);
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
