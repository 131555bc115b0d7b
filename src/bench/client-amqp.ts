import amqp, { type ChannelModel, type ConfirmChannel, type ConsumeMessage } from 'amqplib';
import type { BenchClient } from './clients.js';

/**
 * The load generator's AMQP client for the RabbitMQ peer: a durable queue per user, persistent
 * messages on a confirm channel (a send is acked once RabbitMQ confirms it), and manual acks,
 * one multiple ack for what a turn received, as the native client acks.
 */

/** Unacked deliveries a consumer may hold (Mensageiro's inbox pages hold 512). */
export const AMQP_PREFETCH = 512;

const queueOf = (index: number) => `u.${index}`;

/** A failed confirm or a closed channel ends the generator: the run must not count around it. */
function fatal(error: unknown): never {
  console.error('amqp client:', error);
  process.exit(1);
}

export class AmqpBenchClient implements BenchClient {
  onAck = () => {};
  onDeliver = (_payload: string) => {};
  private connection!: ChannelModel;
  private channel!: ConfirmChannel;
  private unacked: ConsumeMessage | null = null;
  private closing = false;

  constructor(
    readonly index: number,
    private readonly port: number,
  ) {}

  async connect(options: { subscribe?: boolean } = {}): Promise<void> {
    // No heartbeats: a thousand bench connections need no timers.
    this.connection = await amqp.connect({ hostname: '127.0.0.1', port: this.port, heartbeat: 0 });
    this.connection.on('error', (error) => this.closing || fatal(error));
    this.channel = await this.connection.createConfirmChannel();
    this.channel.on('error', (error) => this.closing || fatal(error));
    await this.channel.assertQueue(queueOf(this.index), { durable: true });
    if (options.subscribe === false) return;
    await this.channel.prefetch(AMQP_PREFETCH);
    await this.channel.consume(queueOf(this.index), (message) => this.received(message), { noAck: false });
  }

  send(to: number | { group: number }, payload: string): void {
    if (typeof to !== 'number') throw new Error('the AMQP client has no groups');
    this.channel.sendToQueue(queueOf(to), Buffer.from(payload, 'latin1'), { persistent: true }, (error) =>
      error ? fatal(error) : this.onAck(),
    );
  }

  close(): void {
    this.closing = true;
    this.connection.close().catch(() => {});
  }

  private received(message: ConsumeMessage | null): void {
    // null: the server cancelled the consumer (its queue was deleted).
    if (message === null) return fatal(new Error(`consumer of ${queueOf(this.index)} cancelled`));
    this.onDeliver(message.content.toString('latin1'));
    if (this.unacked === null) setImmediate(() => this.ackReceived());
    this.unacked = message;
  }

  private ackReceived(): void {
    if (this.unacked && !this.closing) this.channel.ack(this.unacked, true);
    this.unacked = null;
  }
}
