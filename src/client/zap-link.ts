import net from 'node:net';
import { EventEmitter } from 'node:events';
import { MensageiroError } from '../core/errors.js';
import { ZapDecoder, encodeZap, zapDataChunks, type ZapFrame } from '../dialects/zap/codec.js';
import type { ChatLink, ChatLinkEvents, Feature } from './chat-link.js';

/**
 * The chat UI over a seed-002 server (ours or a classmate's): 01/02 to register, 03 to connect,
 * 05 to send, 08 to mark read, 10 for groups. zap has no usernames, presence or lobby, and no
 * ack from the server: a message counts as sent once it is written to the connection.
 */
export class ZapLink extends EventEmitter<ChatLinkEvents> implements ChatLink {
  readonly dialect = 'zap';
  readonly features: ReadonlySet<Feature> = new Set(['groups', 'receipts']);
  private socket: net.Socket | null = null;
  private online = false;
  private closed = false;
  private heard = false;
  private attempt = 0;
  private registered: ((id: number) => void) | null = null;
  private started: ((value: void) => void) | null = null;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private id: number | null,
  ) {
    super();
  }

  get connected(): boolean {
    return this.online;
  }

  start(): Promise<void> {
    return new Promise((resolve) => {
      this.started = resolve;
      this.open();
    });
  }

  async send(to: number | string, text: string): Promise<{ mid: number | null; conv: number }> {
    const dst = typeof to === 'number' ? to : /^\d{1,13}$/.test(to) ? Number(to) : null;
    if (dst === null)
      throw new MensageiroError('bad_request', 'zap has no usernames: use a 13-digit id (/add alias <id>)');
    if (!this.online || this.id === null) throw new MensageiroError('timeout', 'not connected');
    const ts = Math.floor(Date.now() / 1000);
    for (const data of zapDataChunks(text)) this.write({ code: '05', src: this.id, dst, ts, data });
    return { mid: null, conv: dst };
  }

  markRead(conv: number, upTo: { mid: number | null; ts: number }): void {
    this.write({ code: '08', src: conv, ts: upTo.ts });
  }

  async createGroup(_name: string, members: Array<number | string>): Promise<void> {
    if (this.id === null) throw new MensageiroError('timeout', 'not connected');
    const ids = members.map((m) => (typeof m === 'number' ? m : Number(m)));
    if (ids.some((m) => !Number.isInteger(m)))
      throw new MensageiroError('bad_request', 'zap group members are 13-digit ids');
    this.write({ code: '10', creator: this.id, ts: Math.floor(Date.now() / 1000), members: ids });
  }

  async lookup(name: string): Promise<{ id: number; username: string | null }> {
    if (!/^\d{1,13}$/.test(name))
      throw new MensageiroError('bad_request', 'zap has no usernames: give the 13-digit id');
    return { id: Number(name), username: null };
  }

  who(): void {}
  joinLobby(): void {}
  postLobby(): void {}

  close(): void {
    this.closed = true;
    this.socket?.end();
  }

  private write(frame: ZapFrame): void {
    if (this.online) this.socket?.write(encodeZap(frame));
  }

  private open(): void {
    const socket = net.connect({ host: this.host, port: this.port });
    this.socket = socket;
    const decoder = new ZapDecoder();
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      if (this.id === null) {
        this.registered = (id) => this.signedIn(id, true);
        socket.write(encodeZap({ code: '01' }));
      } else {
        socket.write(encodeZap({ code: '03', id: this.id }));
        this.signedIn(this.id, false);
      }
    });
    socket.on('data', (chunk: Buffer) => {
      for (const result of decoder.push(chunk)) {
        if (result.ok) this.heard = true;
        if (result.ok) this.onFrame(result.frame);
        else if (!this.heard) return this.foreign(socket);
      }
    });
    socket.once('close', () => {
      const wasOnline = this.online;
      this.online = false;
      if (wasOnline) this.emit('disconnected');
      if (this.closed) return;
      const delay = Math.min(2000, 200 * 2 ** this.attempt++);
      setTimeout(() => this.open(), delay);
    });
  }

  /** The first bytes from the server are no zap frame: another protocol is on this port. */
  private foreign(socket: net.Socket): void {
    this.closed = true;
    socket.destroy();
    this.emit('failed', new MensageiroError('bad_frame', `${this.host}:${this.port} does not speak zap`));
  }

  private signedIn(id: number, isNew: boolean): void {
    this.id = id;
    this.online = true;
    this.attempt = 0;
    this.emit('connected', { id, username: null, token: null });
    if (isNew || this.started) {
      this.started?.();
      this.started = null;
    }
  }

  private onFrame(frame: ZapFrame): void {
    switch (frame.code) {
      case '02':
        this.registered?.(frame.id);
        this.registered = null;
        return;
      case '06': {
        const conv = frame.dst === this.id ? frame.src : frame.dst;
        this.emit('message', { mid: null, from: frame.src, conv, text: frame.data, ts: frame.ts });
        return;
      }
      case '07':
        this.emit('receipt', {
          status: 'delivered',
          conv: frame.dst,
          by: frame.dst,
          mid: null,
          ts: frame.ts,
        });
        return;
      case '09':
        this.emit('receipt', { status: 'read', conv: frame.dst, by: frame.dst, mid: null, ts: frame.ts });
        return;
      case '11':
        this.emit('group', { id: frame.id, name: '', members: frame.members });
        return;
    }
  }
}
