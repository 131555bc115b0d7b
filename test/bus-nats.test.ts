import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { NatsBus } from '../src/bus/nats/nats-bus.js';
import { BUS_RESYNC } from '../src/core/ports.js';
import { busSuite } from './bus-suite.js';
import { NatsServerProcess } from './helpers/nats-server.js';
import { service } from './helpers/services.js';

const available = service('nats-server');
let nats: NatsServerProcess;

beforeAll(async () => {
  if (available) nats = await NatsServerProcess.start();
});
afterAll(async () => {
  await nats?.stop();
});

const prefix = () => `t${crypto.randomBytes(4).toString('hex')}`;
const node = (p: string, events: string[] = []) =>
  NatsBus.connect({ url: nats.url, prefix: p, onEvent: (event) => events.push(event) });

describe.skipIf(!available)('nats bus', () => {
  busSuite('nats', {
    async create() {
      const p = prefix();
      const [a, b] = await Promise.all([node(p), node(p)]);
      return { a, b, close: async () => void (await Promise.all([a.close(), b.close()])) };
    },
  });

  it('keeps clusters apart by their prefix', async () => {
    const [a, b, stranger] = await Promise.all([node('one'), node('one'), node('two')]);
    const got: unknown[] = [];
    const strangerGot: unknown[] = [];
    b.subscribe('u.9', (p) => p !== BUS_RESYNC && got.push(p));
    stranger.subscribe('u.9', (p) => p !== BUS_RESYNC && strangerGot.push(p));
    await vi.waitFor(() => {
      a.publish('u.9', 'hello');
      expect(got.length).toBeGreaterThan(0);
    });
    expect(strangerGot).toEqual([]);
    await Promise.all([a, b, stranger].map((bus) => bus.close()));
  });

  it('reconnects however long NATS is down, drops what is published meanwhile, then resyncs every handler', async () => {
    const p = prefix();
    const eventsA: string[] = [];
    const [a, b] = await Promise.all([node(p, eventsA), node(p)]);
    const got: unknown[] = [];
    b.subscribe('u.10', (payload) => got.push(payload));
    await vi.waitFor(() => {
      a.publish('u.10', 'before');
      expect(got).toContain('before');
    });
    // From here on, a BUS_RESYNC can only come from the reconnect.
    got.length = 0;
    // Longer than the client's default 10 attempts, 250 ms apart, would survive.
    await nats.stop();
    await vi.waitFor(() => expect(eventsA).toContain('disconnect'));
    a.publish('u.10', 'while down');
    expect(a.dropped).toBeGreaterThan(0);
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    await nats.restart();
    await vi.waitFor(() => expect(got).toContain(BUS_RESYNC), { timeout: 10_000 });
    await vi.waitFor(() => {
      a.publish('u.10', 'after');
      expect(got).toContain('after');
    });
    expect(got).not.toContain('while down');
    expect(eventsA).toContain('reconnect');
    await Promise.all([a.close(), b.close()]);
  }, 30_000);
});
