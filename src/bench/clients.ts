import net from 'node:net';
import mqtt from 'mqtt-packet';
import WebSocket from 'ws';
import {
  MqttReader,
  PACKET,
  type RawPacket,
  decodePublish,
  encodePuback,
  encodePublish,
} from './mqtt-wire.js';
import { encodeNativeJson } from '../dialects/native/codec.js';
import { NativeWireReader, readWireFrame } from './native-wire.js';
import { connectTcp } from '../client/tcp.js';
import { FrameBuffer } from '../dialects/frame-buffer.js';
import { AmqpBenchClient } from './client-amqp.js';
import { JetStreamBenchClient } from './client-jetstream.js';
import { frameCount } from './frame-count.js';

export type Protocol = 'native' | 'web' | 'mqtt' | 'relay' | 'amqp' | 'jetstream';

/** One load-generator connection, whatever the protocol. */
export interface BenchClient {
  readonly index: number;
  /** Connects, signs in and subscribes to its own inbox (and `group`, if any). */
  connect(options?: { group?: number; persistent?: boolean; subscribe?: boolean }): Promise<void>;
  /** Sends to another client (by index), or to a group (by group address). */
  send(to: number | { group: number }, payload: string): void;
  onAck: () => void;
  onDeliver: (payload: string) => void;
  /** Native groups are made by the server; the others just subscribe to a shared topic. */
  makeGroup?(members: BenchClient[]): Promise<number>;
  close(): void;
}

const ID_BASE = 1_000_000_000_000;

const connectSocket = (port: number) => connectTcp('127.0.0.1', port);

/** Batches writes per event-loop turn, as a real client under load would. */
class Writer {
  private pending: Buffer[] = [];
  constructor(private readonly socket: net.Socket) {}
  write(bytes: Buffer): void {
    if (this.pending.push(bytes) === 1) setImmediate(() => this.flush());
  }
  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    this.socket.write(batch.length === 1 ? batch[0]! : Buffer.concat(batch));
  }
}

export class NativeBenchClient implements BenchClient {
  onAck = () => {};
  onDeliver = (_payload: string) => {};
  private socket!: net.Socket;
  private writer!: Writer;
  private readonly reader = new NativeWireReader();
  private lastSeq = 0;
  private ackScheduled = false;
  private waiters = new Map<string, (frame: Record<string, unknown>) => void>();
  private cid = 0;

  constructor(
    readonly index: number,
    private readonly port: number,
  ) {}

  get id(): number {
    return ID_BASE + this.index;
  }

  async connect(): Promise<void> {
    await this.open();
    const welcome = this.wait('welcome');
    this.writeJson(JSON.stringify({ type: 'new', id: this.id, acks: true }));
    await welcome;
  }

  /** Opens the transport and feeds every JSON object received to dispatch. */
  protected async open(): Promise<void> {
    this.socket = await connectSocket(this.port);
    this.writer = new Writer(this.socket);
    this.socket.on('data', (chunk: Buffer) => this.reader.push(chunk, (json) => this.dispatch(json)));
  }

  protected writeJson(json: string): void {
    if (frameCount.counting) frameCount.toServer++;
    this.writer.write(encodeNativeJson(json));
  }

  send(to: number | { group: number }, payload: string): void {
    const dst = typeof to === 'number' ? ID_BASE + to : to.group;
    this.writeJson(`{"type":"msg","to":${dst},"text":${JSON.stringify(payload)},"cid":${++this.cid}}`);
  }

  async makeGroup(members: BenchClient[]): Promise<number> {
    const created = this.wait('group.created');
    this.writeJson(
      JSON.stringify({
        type: 'group',
        members: members.filter((m) => m !== this).map((m) => ID_BASE + m.index),
      }),
    );
    return (await created).gid as number;
  }

  close(): void {
    this.socket.destroy();
  }

  private wait(type: string): Promise<Record<string, unknown>> {
    return new Promise((resolve) => this.waiters.set(type, resolve));
  }

  protected dispatch(json: string): void {
    if (frameCount.counting) frameCount.fromServer++;
    const frame = readWireFrame(json);
    switch (frame.type) {
      case 'sent':
        return this.onAck();
      case 'msg':
        this.onDeliver(frame.text!);
        return this.received(frame.seq!);
      case 'receipt':
      case 'group':
        return this.received(frame.seq!);
      default: {
        const waiter = this.waiters.get(frame.type);
        this.waiters.delete(frame.type);
        waiter?.(frame.frame!);
      }
    }
  }

  private received(seq: number): void {
    if (seq > this.lastSeq) this.lastSeq = seq;
    if (this.ackScheduled) return;
    this.ackScheduled = true;
    setImmediate(() => {
      this.ackScheduled = false;
      this.writeJson(`{"type":"ack","seq":${this.lastSeq}}`);
    });
  }
}

/** The same native objects over the web door's WebSocket, one text message each. */
export class WebBenchClient extends NativeBenchClient {
  private ws!: WebSocket;

  constructor(
    index: number,
    private readonly webPort: number,
  ) {
    super(index, webPort);
  }

  protected override async open(): Promise<void> {
    this.ws = new WebSocket(`ws://127.0.0.1:${this.webPort}/ws`, { perMessageDeflate: false });
    this.ws.on('message', (data) => this.dispatch(String(data)));
    await new Promise<void>((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('error', reject);
    });
  }

  protected override writeJson(json: string): void {
    this.ws.send(json);
  }

  override close(): void {
    this.ws.terminate();
  }
}

export class MqttBenchClient implements BenchClient {
  onAck = () => {};
  onDeliver = (_payload: string) => {};
  private socket!: net.Socket;
  private writer!: Writer;
  private readonly reader = new MqttReader();
  private messageId = 0;
  private waiters = new Map<number, (body: Buffer) => void>();

  constructor(
    readonly index: number,
    private readonly port: number,
  ) {}

  async connect(options: { group?: number; persistent?: boolean; subscribe?: boolean } = {}): Promise<void> {
    this.socket = await connectSocket(this.port);
    this.writer = new Writer(this.socket);
    this.socket.on('data', (chunk: Buffer) => {
      for (const packet of this.reader.push(chunk)) this.dispatch(packet);
    });
    const connack = this.wait(PACKET.connack);
    this.packet({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: `c${this.index}`,
      clean: !options.persistent,
      keepalive: 0,
    });
    const returnCode = (await connack)[1];
    if (returnCode !== 0) throw new Error(`CONNACK refused the connection (code ${returnCode})`);
    if (options.subscribe === false) return;
    const subscriptions = [{ topic: `u/${this.index}`, qos: 1 as const }];
    if (options.group !== undefined) subscriptions.push({ topic: `g/${options.group}`, qos: 1 });
    const suback = this.wait(PACKET.suback);
    this.packet({ cmd: 'subscribe', messageId: this.nextId(), subscriptions });
    const granted = (await suback).subarray(2);
    if (granted.some((qos) => qos !== 1)) throw new Error('SUBACK did not grant QoS 1');
  }

  send(to: number | { group: number }, payload: string): void {
    const topic = typeof to === 'number' ? `u/${to}` : `g/${to.group}`;
    this.writer.write(encodePublish(topic, this.nextId(), payload));
  }

  close(): void {
    this.socket.destroy();
  }

  private nextId(): number {
    this.messageId = (this.messageId % 65535) + 1;
    return this.messageId;
  }

  private packet(packet: Record<string, unknown>): void {
    this.writer.write(mqtt.generate(packet as unknown as mqtt.Packet));
  }

  private wait(type: number): Promise<Buffer> {
    return new Promise((resolve) => this.waiters.set(type, resolve));
  }

  private dispatch(packet: RawPacket): void {
    if (packet.type === PACKET.puback) return this.onAck();
    if (packet.type === PACKET.publish) {
      const { messageId, payload } = decodePublish(packet);
      if (messageId !== 0) this.writer.write(encodePuback(messageId));
      return this.onDeliver(payload.toString());
    }
    const waiter = this.waiters.get(packet.type);
    this.waiters.delete(packet.type);
    waiter?.(packet.body);
  }
}

export class RelayBenchClient implements BenchClient {
  onAck = () => {};
  onDeliver = (_payload: string) => {};
  private socket!: net.Socket;
  private writer!: Writer;
  private readonly buffer = new FrameBuffer();
  private ready: (() => void) | null = null;

  constructor(
    readonly index: number,
    private readonly port: number,
  ) {}

  async connect(): Promise<void> {
    this.socket = await connectSocket(this.port);
    this.writer = new Writer(this.socket);
    this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
    const hello = Buffer.alloc(9);
    hello.writeUInt32BE(5, 0);
    hello[4] = 0;
    hello.writeUInt32BE(this.index, 5);
    const ready = new Promise<void>((resolve) => (this.ready = resolve));
    this.writer.write(hello);
    await ready;
  }

  send(to: number | { group: number }, payload: string): void {
    if (typeof to !== 'number') throw new Error('the relay has no groups');
    // Payloads are ASCII: one byte a character.
    const frame = Buffer.allocUnsafe(9 + payload.length);
    frame.writeUInt32BE(payload.length + 5, 0);
    frame[4] = 1;
    frame.writeUInt32BE(to, 5);
    frame.write(payload, 9, 'latin1');
    this.writer.write(frame);
  }

  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.buffer.push(chunk);
    while (this.buffer.length >= 4) {
      const length = this.buffer.peek(4).readUInt32BE(0);
      if (this.buffer.length - 4 < length) break;
      const frame = this.buffer.take(4 + length);
      const type = frame[4];
      if (type === 2) this.onAck();
      else if (type === 3) this.ready?.();
      else this.onDeliver(frame.toString('latin1', 5));
    }
  }
}

export function createClient(protocol: Protocol, index: number, port: number): BenchClient {
  if (protocol === 'native') return new NativeBenchClient(index, port);
  if (protocol === 'web') return new WebBenchClient(index, port);
  if (protocol === 'mqtt') return new MqttBenchClient(index, port);
  if (protocol === 'amqp') return new AmqpBenchClient(index, port);
  if (protocol === 'jetstream') return new JetStreamBenchClient(index, port);
  return new RelayBenchClient(index, port);
}
