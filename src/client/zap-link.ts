import net from 'node:net';
import { EventEmitter } from 'node:events';
import { MensageiroError } from '../core/errors.js';
import { zapDataChunks, zapFrameText, type ZapFrame } from '../dialects/zap/codec.js';
import type { ChatLink, ChatLinkEvents, Feature } from './chat-link.js';
import { DEFAULT_IDLE_MS } from './idle-lines.js';
import { PacedWriter } from './paced-writer.js';
import { ZapReader, wrapped05, type ZapReading } from './zap-reader.js';

export interface ZapLinkOptions {
  /**
   * Pause after each frame is written before the next one goes: a server that takes one recv()
   * as one frame must get them apart, and one that ends an undelimited 05 by idleness (ours, 50
   * ms by default) must see the pause before the next frame.
   */
  frameGapMs?: number;
  /** How long an undelimited 05/06/11 from the server waits for more bytes before it is shown. */
  idleMs?: number;
  /** Told once per connection when the server sent bytes that are no zap frame. */
  onNotice?: (text: string) => void;
}

/** How long a server has to answer 01 with 02. */
const REGISTER_TIMEOUT_MS = 5000;

/**
 * The chat UI over a seed-002 server (ours or a classmate's): 01/02 to register, 03 to connect,
 * 05 to send, 08 to mark read, 10 for groups. zap has no usernames, presence or lobby, and no
 * ack from the server: a message counts as sent once it is written to the connection. Frames go
 * out exactly as the seed lays them out, with no delimiter, one per write and apart in time.
 */
export class ZapLink extends EventEmitter<ChatLinkEvents> implements ChatLink {
  readonly dialect = 'zap';
  readonly features: ReadonlySet<Feature> = new Set(['groups', 'receipts']);
  private socket: net.Socket | null = null;
  private online = false;
  private closed = false;
  private attempt = 0;
  /** Whether any zap frame ever came from this server; until one has, a first hang-up means a wrong port. */
  private everHeard = false;
  private connections = 0;
  private registered: ((id: number) => void) | null = null;
  private started: ((value: void) => void) | null = null;
  private readonly writer: PacedWriter;
  private readonly groups = new Set<number>();
  /** zap carries no group names: the name given to each 10 we sent, until its 11 comes back. */
  private readonly namesAsked: Array<{ name: string; members: string }> = [];
  private readonly idleMs: number;

  constructor(
    private readonly host: string,
    private readonly port: number,
    private id: number | null,
    private readonly options: ZapLinkOptions = {},
  ) {
    super();
    this.writer = new PacedWriter(options.frameGapMs ?? 2 * DEFAULT_IDLE_MS);
    this.idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
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
    const src = this.id;
    await Promise.all(zapDataChunks(text).map((data) => this.write({ code: '05', src, dst, ts, data })));
    return { mid: null, conv: dst };
  }

  markRead(conv: number, upTo: { mid: number | null; ts: number }): void {
    this.write({ code: '08', src: conv, ts: upTo.ts }).catch(() => undefined);
  }

  async createGroup(name: string, members: Array<number | string>): Promise<void> {
    if (this.id === null) throw new MensageiroError('timeout', 'not connected');
    const ids = members.map((m) => (typeof m === 'number' ? m : Number(m)));
    if (ids.some((m) => !Number.isInteger(m)))
      throw new MensageiroError('bad_request', 'zap group members are 13-digit ids');
    this.namesAsked.push({ name, members: memberKey([this.id, ...ids]) });
    await this.write({ code: '10', creator: this.id, ts: Math.floor(Date.now() / 1000), members: ids });
  }

  async lookup(name: string): Promise<{ id: number; username: string | null }> {
    if (!/^\d{1,13}$/.test(name))
      throw new MensageiroError('bad_request', 'zap has no usernames: give the 13-digit id');
    return { id: Number(name), username: null };
  }

  who(): void {}
  joinLobby(): void {}
  postLobby(): void {}

  /** Leaves once the frames already queued (a message typed just before) are written. */
  close(): void {
    this.closed = true;
    this.writer.end();
    // Not signed in yet (or still connecting): nothing of the user's is queued.
    if (!this.online) this.socket?.end();
  }

  /** Queues a frame; it resolves once written, or fails with 'timeout' if the connection ends first. */
  private write(frame: ZapFrame, always = false): Promise<void> {
    if (!this.online && !always) return Promise.reject(new MensageiroError('timeout', 'not connected'));
    return this.writer.write(zapFrameText(frame));
  }

  private open(): void {
    const socket = net.connect({ host: this.host, port: this.port });
    this.socket = socket;
    const reader = new ZapReader();
    let idleTimer: NodeJS.Timeout | null = null;
    let told = false;
    let silence: NodeJS.Timeout | null = null;
    this.connections++;
    const handle = (readings: ZapReading[]) => {
      for (const reading of readings) {
        this.everHeard ||= reading.ok;
        if (reading.ok) this.onFrame(reading.frame, reading.raw);
        else if (!told) {
          told = true;
          this.options.onNotice?.(
            `skipped ${JSON.stringify(reading.skipped.toString('utf8').slice(0, 40))} from the server (${reading.reason}); reading on`,
          );
        }
      }
    };
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    socket.once('connect', () => {
      this.writer.attach(socket);
      if (this.id === null) {
        // A 01 has an answer: no 02 within a few seconds, and this is no zap server.
        silence = setTimeout(() => socket.destroy(), REGISTER_TIMEOUT_MS);
        this.registered = (id) => {
          if (silence) clearTimeout(silence);
          this.signedIn(id, true);
        };
        void this.write({ code: '01' }, true).catch(() => undefined);
      } else {
        void this.write({ code: '03', id: this.id }, true).catch(() => undefined);
        this.signedIn(this.id, false);
      }
    });
    socket.on('data', (chunk: Buffer) => {
      if (idleTimer) clearTimeout(idleTimer);
      idleTimer = null;
      handle(reader.push(chunk));
      if (reader.pending) {
        idleTimer = setTimeout(() => {
          idleTimer = null;
          handle(reader.flush());
        }, this.idleMs);
      }
    });
    socket.once('close', () => {
      if (idleTimer) clearTimeout(idleTimer);
      handle(reader.flush());
      this.socket = null;
      this.writer.detach();
      const wasOnline = this.online;
      this.online = false;
      if (silence) clearTimeout(silence);
      // Hung up before ever sending a zap frame: another protocol is on this port.
      if (!this.everHeard && !this.closed && this.connections === 1) {
        const seconds = REGISTER_TIMEOUT_MS / 1000;
        return this.foreign(
          told
            ? 'its answer is no zap frame'
            : this.id === null
              ? `no answer to 01 within ${seconds} s`
              : `it closed the connection after 03 without a zap frame; or it does not know id ${this.id}`,
        );
      }
      if (wasOnline) this.emit('disconnected');
      if (this.closed) return;
      const delay = Math.min(2000, 200 * 2 ** this.attempt++);
      setTimeout(() => this.open(), delay);
    });
  }

  private foreign(reason: string): void {
    this.closed = true;
    this.emit(
      'failed',
      new MensageiroError('bad_frame', `${this.host}:${this.port} does not speak zap (${reason})`),
    );
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

  private onFrame(frame: ZapFrame, raw: Buffer): void {
    switch (frame.code) {
      case '02':
        this.registered?.(frame.id);
        this.registered = null;
        return;
      case '05':
      case '06': {
        const known = (dst: number) => dst === this.id || this.groups.has(dst);
        const message = wrapped05(frame, raw, known) ?? frame;
        // A server that relays our own 05 back to us: it is already shown as sent.
        if (message.src === this.id) return;
        const conv = message.dst === this.id ? message.src : message.dst;
        this.emit('message', { mid: null, from: message.src, conv, text: message.data, ts: message.ts });
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
      case '11': {
        this.groups.add(frame.id);
        const asked = this.namesAsked.findIndex((g) => g.members === memberKey(frame.members));
        const name = asked < 0 ? '' : this.namesAsked.splice(asked, 1)[0]!.name;
        this.emit('group', { id: frame.id, name, members: frame.members });
        return;
      }
    }
  }
}

const memberKey = (members: number[]) => [...new Set(members)].sort((a, b) => a - b).join(',');
