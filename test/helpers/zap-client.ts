import { RawSocket } from './raw-socket.js';

export const pad = (value: number | string, width: number) => String(value).padStart(width, '0');
export const z03 = (id: string) => `03${id}`;
export const z05 = (src: string, dst: string, ts: number, data: string) =>
  `05${src}${dst}${pad(ts, 10)}${data}`;
export const z08 = (src: string, ts: number) => `08${src}${pad(ts, 10)}`;
export const z10 = (creator: string, ts: number, members: string[]) =>
  `10${creator}${pad(ts, 10)}${members.join('')}`;

/** A raw zap client, as a classmate's Python client would be: bytes out, LF-ended lines in. */
export class ZapTestClient {
  private constructor(readonly raw: RawSocket) {}

  static async connect(port: number): Promise<ZapTestClient> {
    return new ZapTestClient(await RawSocket.connect(port));
  }

  /** Complete lines received so far (every server frame ends in LF). */
  get lines(): string[] {
    const text = this.raw.text;
    return text
      .slice(0, text.lastIndexOf('\n') + 1)
      .split('\n')
      .filter((line) => line.length > 0);
  }

  write(data: string | Buffer): Promise<void> {
    return this.raw.write(data);
  }

  waitLine(match: (line: string) => boolean, what: string): Promise<string> {
    return this.raw.until(() => this.lines.find(match), what);
  }

  waitLines(match: (line: string) => boolean, count: number, what: string): Promise<string[]> {
    return this.raw.until(() => {
      const found = this.lines.filter(match);
      return found.length >= count ? found : undefined;
    }, `${count} × ${what}`);
  }

  /** Registers with 01 and returns the 13-digit id from 02. */
  async register(): Promise<string> {
    await this.write('01');
    const line = await this.waitLine((l) => l.startsWith('02'), '02 reply');
    return line.slice(2);
  }

  close(): void {
    this.raw.close();
  }
}
