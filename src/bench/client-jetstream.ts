import {
  AckPolicy,
  DeliverPolicy,
  RetentionPolicy,
  StorageType,
  jetstreamManager,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { BenchClient } from './clients.js';

/**
 * The load generator's JetStream client: one work-queue stream with a subject per user, a
 * durable pull consumer per user with explicit acks; a send is acked once the stream's publish
 * ack arrives.
 */

export const STREAM = 'BENCH';
/** Messages a consumer pulls at a time (Mensageiro's inbox pages hold 512). */
export const JETSTREAM_BATCH = 512;
const ACK_WAIT_S = 300;

const subjectOf = (index: number) => `u.${index}`;

function fatal(error: unknown): never {
  console.error('jetstream client:', error);
  process.exit(1);
}

/** Every client adds the stream: adding one that exists with the same config changes nothing. */
async function ensureStream(jsm: JetStreamManager): Promise<void> {
  await jsm.streams.add({
    name: STREAM,
    subjects: ['u.>'],
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
  });
}

export class JetStreamBenchClient implements BenchClient {
  onAck = () => {};
  onDeliver = (_payload: string) => {};
  private nc!: NatsConnection;
  private js!: JetStreamClient;

  constructor(
    readonly index: number,
    private readonly port: number,
  ) {}

  async connect(options: { subscribe?: boolean } = {}): Promise<void> {
    this.nc = await connect({ servers: `127.0.0.1:${this.port}`, reconnect: false });
    const jsm = await jetstreamManager(this.nc);
    await ensureStream(jsm);
    this.js = jsm.jetstream();
    if (options.subscribe === false) return;
    const durable = `u${this.index}`;
    await jsm.consumers.add(STREAM, {
      durable_name: durable,
      filter_subject: subjectOf(this.index),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      // Redelivered only when the consumer goes away, as RabbitMQ and Mensageiro redeliver, not
      // because a starved machine took longer than the default 30 s to ack: in ns.
      ack_wait: ACK_WAIT_S * 1e9,
    });
    const consumer = await this.js.consumers.get(STREAM, durable);
    await consumer.consume({
      max_messages: JETSTREAM_BATCH,
      // A pull the server answers with a 409 stalls until two idle heartbeats are missed
      // (expires / 2 each): 30 s by default, longer than the 10 s without a delivery after
      // which W1 counts the rest as lost. 5 s bounds that stall at about 5 s.
      expires: 5000,
      callback: (message) => {
        this.onDeliver(message.string());
        message.ack();
      },
    });
  }

  send(to: number | { group: number }, payload: string): void {
    if (typeof to !== 'number') throw new Error('the JetStream client has no groups');
    // A long timeout: at C=1000 thousands of publishes wait in the server's queue.
    this.js.publish(subjectOf(to), payload, { timeout: 120_000 }).then(() => this.onAck(), fatal);
  }

  close(): void {
    this.nc.close().catch(() => {});
  }
}
