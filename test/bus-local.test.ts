import { describe, expect, it } from 'vitest';
import { LocalBus } from '../src/bus/local/local-bus.js';
import { busSuite } from './bus-suite.js';

busSuite('local', {
  async create() {
    const bus = new LocalBus();
    return { a: bus, b: bus, close: () => bus.close() };
  },
});

describe('local bus', () => {
  it('delivers to one, then several, then one subscriber again, as they come and go', () => {
    const bus = new LocalBus();
    const got: string[] = [];
    const a = (p: unknown) => got.push(`a:${String(p)}`);
    const b = (p: unknown) => got.push(`b:${String(p)}`);
    bus.subscribe('inbox.1', a);
    bus.publish('inbox.1', 1);
    bus.subscribe('inbox.1', b);
    bus.publish('inbox.1', 2);
    bus.unsubscribe('inbox.1', a);
    bus.publish('inbox.1', 3);
    bus.unsubscribe('inbox.1', a); // a second call changes nothing
    bus.publish('inbox.2', 'elsewhere');
    bus.unsubscribe('inbox.1', b);
    bus.publish('inbox.1', 4);
    expect(got).toEqual(['a:1', 'a:2', 'b:2', 'b:3']);
  });

  it('lets a handler unsubscribe itself while a publish is under way', () => {
    const bus = new LocalBus();
    const got: string[] = [];
    const once = () => {
      got.push('once');
      bus.unsubscribe('s', once);
    };
    bus.subscribe('s', once);
    bus.subscribe('s', () => got.push('always'));
    bus.publish('s', null);
    bus.publish('s', null);
    expect(got).toEqual(['once', 'always', 'always']);
  });
});
