import type { Client } from '../../src/client/client.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface SendLoad {
  /** The texts (`<sender>:<n>`) whose durable ack has come back. */
  acked: Set<string>;
  /** Stops sending and waits for every message still in flight to be acknowledged. */
  stop(): Promise<void>;
}

/**
 * Each sender sends `<i>:<n>` to `to` without end, at most `window` unacknowledged at a time,
 * until stop(): the load under which crash and failover tests kill servers.
 */
export function startSendLoad(senders: Client[], to: number, window: number): SendLoad {
  const acked = new Set<string>();
  let stopping = false;
  const load = senders.map(async (sender, i) => {
    let n = 0;
    const inFlight = new Set<Promise<unknown>>();
    while (!stopping) {
      if (inFlight.size >= window) {
        await Promise.race(inFlight);
        continue;
      }
      const text = `${i}:${n++}`;
      const sent = sender.send(to, text).then(() => acked.add(text));
      inFlight.add(sent);
      void sent.finally(() => inFlight.delete(sent));
      // Yields now and then, so the test's own timers and the kills run during the load.
      if (n % window === 0) await sleep(1);
    }
    await Promise.all(inFlight);
  });
  return {
    acked,
    stop: async () => {
      stopping = true;
      await Promise.all(load);
    },
  };
}
