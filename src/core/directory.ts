import { MensageiroError } from './errors.js';

export interface PeerEntry {
  name: string;
  ip: string;
  port: number;
  registeredAt: number;
  /** Whoever registered the name; only they can remove it. */
  owner: object | null;
}

/** The seed-003 registry of active peers: who is online and where to reach them. */
export class Directory {
  private readonly entries = new Map<string, PeerEntry>();

  constructor(private readonly now: () => number) {}

  register(name: string, ip: string, port: number, owner: object | null = null): PeerEntry {
    if (this.entries.has(name)) throw new MensageiroError('name_taken', `name ${name} is already active`);
    const entry: PeerEntry = { name, ip, port, registeredAt: this.now(), owner };
    this.entries.set(name, entry);
    return entry;
  }

  lookup(name: string): PeerEntry | null {
    return this.entries.get(name) ?? null;
  }

  /** Active names in registration order, without `except` (LIST leaves out the asker). */
  names(except?: string): string[] {
    return [...this.entries.keys()].filter((name) => name !== except);
  }

  /** Removes `name` if `owner` registered it (a stale session must not drop a newer one). */
  remove(name: string, owner: object | null = null): void {
    if (this.entries.get(name)?.owner === owner) this.entries.delete(name);
  }
}
