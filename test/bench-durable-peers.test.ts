import { describe, expect, it } from 'vitest';
import { loadgen, startPeer } from '../src/bench/harness.js';
import { jetstreamPeer } from '../src/bench/peer-jetstream.js';
import { rabbitmqPeer } from '../src/bench/peer-rabbitmq.js';
import { presentOrSkip } from './helpers/services.js';

// The bench's durable peers, each a private server started as the bench starts it, under a
// tiny load: every message sent is delivered once, live (W1) and from an offline recipient's
// backlog (W2). One start a peer, for both: a RabbitMQ node takes seconds to boot. The harness
// runs the compiled generator (dist/bench), as `npm test` builds first.

const version = () => 'test';

for (const peer of [rabbitmqPeer(version), jetstreamPeer(version)]) {
  const present = presentOrSkip(!peer.unavailable, `${peer.name} (${peer.unavailable})`);
  describe.skipIf(!present)(`the bench's ${peer.name} peer`, () => {
    it('delivers every message exactly once, live and from a backlog', async () => {
      const running = await startPeer(peer);
      try {
        const target = { protocol: peer.protocol, port: running.port };
        const live = await loadgen({
          workload: 'live',
          ...target,
          clients: 6,
          window: 4,
          warmupMs: 100,
          measureMs: 500,
        });
        expect(live).toMatchObject({ lost: 0, duplicated: 0 });
        expect(live.delivered as number).toBeGreaterThan(0);
        expect(live.delivered).toBe(live.sent);
        const drain = await loadgen({ workload: 'drain', ...target, messages: 300, window: 64 });
        expect(drain).toMatchObject({ complete: true, unique: 300, received: 300, lost: 0, duplicated: 0 });
      } finally {
        await running.stop();
      }
    }, 60_000);
  });
}
