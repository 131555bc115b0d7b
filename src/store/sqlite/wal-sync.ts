import fs from 'node:fs';

/**
 * fdatasync of the WAL on libuv's thread pool. A commit at synchronous=NORMAL has written its
 * frames to the file but not synced them; syncing any descriptor of the file brings them to
 * disk, and the event loop does not wait for it.
 */
export class WalSync {
  private fd: number | null = null;

  constructor(private readonly walPath: string) {}

  sync(done: (error: Error | null) => void): void {
    try {
      // Opened on first use: SQLite creates the WAL at the first commit, and keeps the same file
      // (rewinding it) for as long as the database is open.
      this.fd ??= fs.openSync(this.walPath, 'r+');
    } catch (error) {
      done(error as Error);
      return;
    }
    fs.fdatasync(this.fd, (error) => done(error));
  }

  close(): void {
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}
