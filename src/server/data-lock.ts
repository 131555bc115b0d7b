import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { MensageiroError } from '../core/errors.js';

export const LOCK_FILE = 'mensageiro.lock';

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists and belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readHolder(file: string): LockHolder | null {
  try {
    const holder = JSON.parse(fs.readFileSync(file, 'utf8')) as LockHolder;
    return Number.isInteger(holder.pid) ? holder : null;
  } catch {
    return null;
  }
}

/** The live server holding the directory, or null when none does (no lock, or a stale one). */
export function lockHolder(dataDir: string): LockHolder | null {
  const holder = readHolder(path.join(dataDir, LOCK_FILE));
  if (holder === null) return null;
  // A lock from another machine (a shared disk) cannot be checked: it counts as held.
  return holder.host !== os.hostname() || alive(holder.pid) ? holder : null;
}

export function describeHolder(dataDir: string, holder: LockHolder): string {
  return `${path.resolve(dataDir)} is in use by another mensageiro server (pid ${holder.pid} on ${holder.host}, started ${holder.startedAt})`;
}

/**
 * One server per data directory: a lock file naming its process. Two servers on one store
 * would each route live messages only to their own sessions. A lock whose process is gone
 * is stale and is taken over.
 */
export class DataLock {
  private constructor(private readonly file: string) {}

  static acquire(dataDir: string): DataLock {
    fs.mkdirSync(dataDir, { recursive: true });
    const file = path.join(dataDir, LOCK_FILE);
    const mine: LockHolder = { pid: process.pid, host: os.hostname(), startedAt: new Date().toISOString() };
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        fs.writeFileSync(file, `${JSON.stringify(mine)}\n`, { flag: 'wx', mode: 0o644 });
        return new DataLock(file);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = lockHolder(dataDir);
      if (holder !== null) {
        throw new MensageiroError(
          'conflict',
          `${describeHolder(dataDir, holder)}; stop it first, or give this one another --data`,
        );
      }
      // Stale: its process is gone. Another starter may race us here; 'wx' lets one win.
      fs.rmSync(file, { force: true });
    }
    throw new MensageiroError('conflict', `${path.resolve(dataDir)}: could not take ${LOCK_FILE}`);
  }

  release(): void {
    if (readHolder(this.file)?.pid === process.pid) fs.rmSync(this.file, { force: true });
  }
}
