import fs from 'node:fs';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';

export interface ReadMessageRow {
  /** ISO 8601, UTC. */
  timestamp: string;
  from: string;
  to: string;
  text: string;
}

const HEADER = ['timestamp', 'from', 'to', 'text'];

/**
 * The seed-001 messages database: one RFC 4180 row per message read by its recipient. Rows are
 * written whole with one synchronous append each, so a crash or shutdown never leaves half a row.
 */
export class MessagesCsv {
  private readonly fd: number;

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.fd = fs.openSync(file, 'a');
    if (fs.fstatSync(this.fd).size === 0) this.write([HEADER]);
  }

  append(rows: ReadMessageRow[]): void {
    if (rows.length === 0) return;
    this.write(rows.map((row) => [row.timestamp, row.from, row.to, row.text]));
  }

  close(): void {
    fs.closeSync(this.fd);
  }

  private write(records: string[][]): void {
    const text = stringify(records, { record_delimiter: 'windows', quoted_match: /[\r\n",]/ });
    fs.writeSync(this.fd, text);
  }
}
