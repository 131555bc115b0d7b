import { RawSocket } from './raw-socket.js';

/** A raw line-protocol client (mm, p2p): writes text, reads LF-ended lines. */
export class LineTestClient {
  private constructor(readonly raw: RawSocket) {}

  static async connect(port: number): Promise<LineTestClient> {
    return new LineTestClient(await RawSocket.connect(port));
  }

  /** Complete lines so far, CR stripped. */
  get lines(): string[] {
    const text = this.raw.text;
    return text
      .slice(0, text.lastIndexOf('\n') + 1)
      .split('\n')
      .slice(0, -1)
      .map((line) => line.replace(/\r$/, ''));
  }

  write(data: string | Buffer): Promise<void> {
    return this.raw.write(data);
  }

  waitLine(match: (line: string) => boolean, what: string): Promise<string> {
    return this.raw.until(() => this.lines.find(match), what);
  }

  /** Waits for the `count`-th line that matches, and returns all lines up to it. */
  async waitCount(match: (line: string) => boolean, count: number, what: string): Promise<string[]> {
    return this.raw.until(() => {
      const lines = this.lines;
      let seen = 0;
      for (let i = 0; i < lines.length; i++)
        if (match(lines[i]!) && ++seen === count) return lines.slice(0, i + 1);
      return undefined;
    }, `${count} × ${what}`);
  }

  close(): void {
    this.raw.close();
  }
}
