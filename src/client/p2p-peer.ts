import net from 'node:net';
import { EventEmitter } from 'node:events';
import { parseReply } from '../dialects/p2p/codec.js';
import { DEFAULT_IDLE_MS, readLines } from './idle-lines.js';
import { PacedWriter } from './paced-writer.js';
import { connectTcp } from './tcp.js';

export interface P2pPeerEvents {
  message: [from: string, text: string];
  joined: [name: string];
  left: [name: string];
  /** The directory connection ended: we are no longer listed. */
  offline: [];
}

type Waiter =
  | { kind: 'list'; resolve: (names: string[]) => void }
  | {
      kind: 'addr';
      name: string;
      settled: boolean;
      resolve: (address: { ip: string; port: number } | null) => void;
    }
  | { kind: 'addr-end'; addr: Extract<Waiter, { kind: 'addr' }> };

/**
 * Reads a directory's or a peer's lines: CRLF, a bare LF, or (from peers that send each line with
 * one send() and no ending) whatever came before the idle interval. Blank lines carry nothing.
 */
function onLines(socket: net.Socket, idleMs: number, handler: (line: string) => void): void {
  readLines(
    socket,
    (line) => {
      if (line.trim() !== '') handler(line);
    },
    idleMs,
  );
}

/**
 * A seed-003 peer. It speaks only the instruction table, so it works with any directory and
 * any peer that follow it. A directory stays silent on ADDR for an inactive name, so a lookup
 * sends `ADDR x` then `LIST`: if the LIST reply comes first, x is not active.
 */
export class P2pPeer extends EventEmitter<P2pPeerEvents> {
  private readonly listener = net.createServer((socket) => this.accept(socket));
  private directory: net.Socket | null = null;
  /**
   * One instruction per write, apart: a directory that takes one recv() as one instruction, and
   * whose replies end in nothing, so they must come further apart than the idle interval.
   */
  private readonly instructions: PacedWriter;
  private keepalive: NodeJS.Timeout | null = null;
  private waiters: Waiter[] = [];
  private readonly peers = new Map<string, net.Socket>();
  current: string | null = null;
  port = 0;

  constructor(
    readonly name: string,
    private readonly keepaliveMs = 5000,
    /** How long a line with no ending waits for more bytes before it is taken. */
    private readonly idleMs = DEFAULT_IDLE_MS,
  ) {
    super();
    this.instructions = new PacedWriter(2 * idleMs);
  }

  async start(host: string, port: number): Promise<void> {
    await new Promise<void>((resolve) => this.listener.listen(0, resolve));
    this.port = (this.listener.address() as net.AddressInfo).port;
    const directory = await connectTcp(host, port);
    this.directory = directory;
    directory.on('close', () => {
      this.instructions.detach();
      if (this.keepalive) clearInterval(this.keepalive);
      for (const waiter of this.waiters.splice(0)) {
        if (waiter.kind === 'list') waiter.resolve([]);
        else if (waiter.kind === 'addr') waiter.resolve(null);
      }
      this.emit('offline');
    });
    onLines(directory, this.idleMs, (line) => this.onReply(line));
    this.instructions.attach(directory);
    this.instruct(`USER ${this.name}:${this.port}`);
    this.keepalive = setInterval(() => this.instruct('KEEP'), this.keepaliveMs);
  }

  /** Names of the other active peers. */
  list(): Promise<string[]> {
    return new Promise((resolve) => {
      this.waiters.push({ kind: 'list', resolve });
      this.instruct('LIST');
    });
  }

  lookup(name: string): Promise<{ ip: string; port: number } | null> {
    return new Promise((resolve) => {
      const addr: Extract<Waiter, { kind: 'addr' }> = { kind: 'addr', name, settled: false, resolve };
      this.waiters.push(addr, { kind: 'addr-end', addr });
      this.instruct(`ADDR ${name}`);
      this.instruct('LIST');
    });
  }

  /** Opens a chat with `name` (or switches to it if already open); false if not active. */
  async chat(name: string): Promise<boolean> {
    if (this.peers.has(name)) {
      this.current = name;
      return true;
    }
    const address = await this.lookup(name);
    if (!address) return false;
    const socket = await connectTcp(address.ip, address.port);
    socket.write(`USER ${this.name}\r\n`);
    this.adopt(name, socket);
    this.current = name;
    return true;
  }

  /** Sends a line to `to`, or to the current peer; false when there is no such connection. */
  send(text: string, to: string | null = this.current): boolean {
    const socket = to === null ? undefined : this.peers.get(to);
    if (!socket) return false;
    socket.write(`${text.replace(/[\r\n]+/g, ' ')}\r\n`);
    return true;
  }

  connectedPeers(): string[] {
    return [...this.peers.keys()];
  }

  /** Ends the chat with `name` (the current peer by default). */
  bye(name: string | null = this.current): boolean {
    const socket = name === null ? undefined : this.peers.get(name);
    if (!socket) return false;
    socket.end('DISC\r\n');
    this.drop(name!);
    return true;
  }

  async stop(): Promise<void> {
    for (const name of this.connectedPeers()) this.bye(name);
    if (this.keepalive) clearInterval(this.keepalive);
    // DISC waits its turn behind a KEEP or LIST still being written, then the connection ends.
    this.instruct('DISC');
    this.instructions.end();
    await new Promise<void>((resolve) => this.listener.close(() => resolve()));
  }

  private instruct(line: string): void {
    this.instructions.write(`${line}\r\n`).catch(() => undefined);
  }

  private onReply(line: string): void {
    const reply = parseReply(line);
    if (!reply) return;
    if (reply.kind === 'ADDR') {
      const waiter = this.waiters.find((w) => w.kind === 'addr' && !w.settled && w.name === reply.name);
      if (waiter?.kind === 'addr') {
        waiter.settled = true;
        waiter.resolve({ ip: reply.ip, port: reply.port });
      }
      return;
    }
    const index = this.waiters.findIndex((w) => w.kind === 'list' || w.kind === 'addr-end');
    if (index < 0) return;
    const [waiter] = this.waiters.splice(index, 1);
    if (waiter!.kind === 'list') waiter!.resolve(reply.names);
    else if (waiter!.kind === 'addr-end') {
      const addr = waiter!.addr;
      this.waiters = this.waiters.filter((w) => w !== addr);
      if (!addr.settled) addr.resolve(null);
    }
  }

  private accept(socket: net.Socket): void {
    socket.on('error', () => undefined);
    let name: string | null = null;
    onLines(socket, this.idleMs, (line) => {
      if (name === null) {
        const match = /^USER\s+([^\s:]+)/.exec(line.trim());
        if (!match) {
          socket.destroy();
          return;
        }
        name = match[1]!;
        this.adopt(name, socket);
        if (this.current === null) this.current = name;
        return;
      }
      this.onPeerLine(name, line);
    });
  }

  private adopt(name: string, socket: net.Socket): void {
    this.peers.get(name)?.destroy();
    this.peers.set(name, socket);
    socket.on('error', () => undefined);
    socket.on('close', () => {
      if (this.peers.get(name) === socket) this.drop(name);
    });
    if (socket.listenerCount('data') === 0)
      onLines(socket, this.idleMs, (line) => this.onPeerLine(name, line));
    this.emit('joined', name);
  }

  private onPeerLine(name: string, line: string): void {
    if (line.trim() === 'DISC') {
      this.peers.get(name)?.end();
      this.drop(name);
      return;
    }
    this.emit('message', name, line);
  }

  private drop(name: string): void {
    if (!this.peers.delete(name)) return;
    if (this.current === name) this.current = this.peers.keys().next().value ?? null;
    this.emit('left', name);
  }
}
