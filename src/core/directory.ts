import { MensageiroError } from './errors.js';
import type { NodeEvents } from './node-watch.js';
import { BUS_RESYNC, type Bus } from './ports.js';

export const DIRECTORY_SUBJECT = 'directory';

export interface PeerEntry {
  name: string;
  ip: string;
  port: number;
  registeredAt: number;
  /** Whoever registered the name; only they can remove it. Null for another node's entry. */
  owner: object | null;
}

type Announced = Omit<PeerEntry, 'owner'>;
/** What nodes tell each other about the entries registered on them. */
type DirectoryNote =
  { node: string; add: Announced } | { node: string; remove: string } | { node: string; all: Announced[] };

/**
 * The seed-003 registry of active peers: who is online and where to reach them. Each node
 * keeps the entries registered on it and learns the other nodes' from the bus; a dead node's
 * entries go when it stops beating (see NodeWatch).
 */
export class Directory implements NodeEvents {
  private readonly entries = new Map<string, PeerEntry>();
  private readonly remote = new Map<string, { entry: PeerEntry; node: string }>();

  constructor(
    private readonly now: () => number,
    private readonly bus?: Bus,
    private readonly node = '',
  ) {
    bus?.subscribe(DIRECTORY_SUBJECT, (payload) => {
      if (payload !== BUS_RESYNC) this.onNote(payload as DirectoryNote);
    });
  }

  register(name: string, ip: string, port: number, owner: object | null = null): PeerEntry {
    if (this.entries.has(name) || this.remote.has(name)) {
      throw new MensageiroError('name_taken', `name ${name} is already active`);
    }
    const entry: PeerEntry = { name, ip, port, registeredAt: this.now(), owner };
    this.entries.set(name, entry);
    this.bus?.publish(DIRECTORY_SUBJECT, { node: this.node, add: announced(entry) } satisfies DirectoryNote);
    return entry;
  }

  lookup(name: string): PeerEntry | null {
    return this.entries.get(name) ?? this.remote.get(name)?.entry ?? null;
  }

  /** Active names in registration order, without `except` (LIST leaves out the asker). */
  names(except?: string): string[] {
    const all = [...this.entries.values(), ...[...this.remote.values()].map((r) => r.entry)];
    if (this.remote.size > 0) all.sort((a, b) => a.registeredAt - b.registeredAt);
    return all.map((entry) => entry.name).filter((name) => name !== except);
  }

  /** Removes `name` if `owner` registered it (a stale session must not drop a newer one). */
  remove(name: string, owner: object | null = null): void {
    if (this.entries.get(name)?.owner !== owner) return;
    this.entries.delete(name);
    this.bus?.publish(DIRECTORY_SUBJECT, { node: this.node, remove: name } satisfies DirectoryNote);
  }

  joined(): void {
    const all = [...this.entries.values()].map(announced);
    this.bus?.publish(DIRECTORY_SUBJECT, { node: this.node, all } satisfies DirectoryNote);
  }

  lost(node: string): void {
    for (const [name, held] of this.remote) if (held.node === node) this.remote.delete(name);
  }

  private onNote(note: DirectoryNote): void {
    if (typeof note?.node !== 'string' || note.node === this.node) return;
    if ('add' in note)
      this.remote.set(note.add.name, { entry: { ...note.add, owner: null }, node: note.node });
    else if ('remove' in note) {
      if (this.remote.get(note.remove)?.node === note.node) this.remote.delete(note.remove);
    } else {
      this.lost(note.node);
      for (const entry of note.all)
        this.remote.set(entry.name, { entry: { ...entry, owner: null }, node: note.node });
    }
  }
}

function announced({ name, ip, port, registeredAt }: PeerEntry): Announced {
  return { name, ip, port, registeredAt };
}
