import { describe, expect, it, vi } from 'vitest';
import { BUS_RESYNC, type Bus, type BusHandler } from '../src/core/ports.js';

export interface BusFactory {
  /** Two nodes on one cluster (the same bus twice when the backend has one process). */
  create(): Promise<{ a: Bus; b: Bus; close(): Promise<void> }>;
}

/** What a handler got, BUS_RESYNC left out (a backend may send it at any time). */
function recorder(): { handler: BusHandler; got: unknown[] } {
  const got: unknown[] = [];
  return { handler: (payload) => payload !== BUS_RESYNC && got.push(payload), got };
}

/** Waits until `to`'s subscription on `subject` hears `from`: a subscription spreads in its own time. */
async function settled(from: Bus, to: Bus, subject: string): Promise<void> {
  let heard = false;
  const probe = (payload: unknown) => {
    if (payload === 'probe') heard = true;
  };
  to.subscribe(subject, probe);
  await vi.waitFor(() => {
    from.publish(subject, 'probe');
    expect(heard).toBe(true);
  });
  to.unsubscribe(subject, probe);
}

/** The contract every Bus backend meets: LocalBus in one process, NatsBus across nodes. */
export function busSuite(name: string, factory: BusFactory): void {
  describe(`Bus contract: ${name}`, () => {
    it('delivers a publish once to each handler of its subject, on its own node and on another', async () => {
      const { a, b, close } = await factory.create();
      const onA = recorder();
      const onB = recorder();
      const elsewhere = recorder();
      a.subscribe('u.1', onA.handler);
      b.subscribe('u.1', onB.handler);
      b.subscribe('u.2', elsewhere.handler);
      await settled(a, b, 'u.1');
      a.publish('u.1', { n: 1 });
      a.publish('u.1', 'end');
      await vi.waitFor(() => expect(onB.got.at(-1)).toBe('end'));
      expect(onA.got.filter((p) => p !== 'probe')).toEqual([{ n: 1 }, 'end']);
      expect(onB.got.filter((p) => p !== 'probe')).toEqual([{ n: 1 }, 'end']);
      expect(elsewhere.got).toEqual([]);
      await close();
    });

    it("keeps one publisher's order", async () => {
      const { a, b, close } = await factory.create();
      const onB = recorder();
      b.subscribe('u.3', onB.handler);
      await settled(a, b, 'u.3');
      const sent = Array.from({ length: 200 }, (_, n) => n);
      for (const n of sent) a.publish('u.3', n);
      await vi.waitFor(() => expect(onB.got.filter((p) => p !== 'probe')).toEqual(sent));
      await close();
    });

    it('stops delivering to an unsubscribed handler; a second unsubscribe does nothing', async () => {
      const { a, b, close } = await factory.create();
      const gone = recorder();
      const stays = recorder();
      b.subscribe('u.4', gone.handler);
      b.subscribe('u.4', stays.handler);
      await settled(a, b, 'u.4');
      b.unsubscribe('u.4', gone.handler);
      b.unsubscribe('u.4', gone.handler);
      a.publish('u.4', 'after');
      await vi.waitFor(() => expect(stays.got.at(-1)).toBe('after'));
      expect(gone.got.filter((p) => p !== 'probe')).toEqual([]);
      await close();
    });

    it('lets a handler unsubscribe itself while a publish is under way', async () => {
      const { a, b, close } = await factory.create();
      const got: string[] = [];
      const once = (payload: unknown) => {
        if (payload !== 'x') return;
        got.push('once');
        b.unsubscribe('u.5', once);
      };
      const always = (payload: unknown) => payload === 'x' && got.push('always');
      b.subscribe('u.5', once);
      b.subscribe('u.5', always);
      await settled(a, b, 'u.5');
      a.publish('u.5', 'x');
      a.publish('u.5', 'x');
      await vi.waitFor(() => expect(got).toEqual(['once', 'always', 'always']));
      await close();
    });

    it('carries JSON data unchanged', async () => {
      const { a, b, close } = await factory.create();
      const onB = recorder();
      b.subscribe('u.6', onB.handler);
      await settled(a, b, 'u.6');
      const item = { seq: 7, kind: 'msg', msg: { mid: 12, from: 1, to: 2, text: 'olá\n"x"', ts: 3, at: 4 } };
      a.publish('u.6', item);
      a.publish('u.6', null);
      await vi.waitFor(() => expect(onB.got.filter((p) => p !== 'probe')).toEqual([item, null]));
      await close();
    });
  });
}
