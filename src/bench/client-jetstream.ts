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
    });
    const consumer = await this.js.consumers.get(STREAM, durable);
    await consumer.consume({
      max_messages: JETSTREAM_BATCH,
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
