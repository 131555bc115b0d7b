import { describe, expect, it } from 'vitest';
import { LocalBus } from '../src/bus/local-bus.js';

describe('local bus', () => {
  it('delivers to one, then several, then one subscriber again, as they come and go', () => {
    const bus = new LocalBus();
    const got: string[] = [];
    const offA = bus.subscribe('inbox.1', (p) => got.push(`a:${String(p)}`));
    bus.publish('inbox.1', 1);
    const offB = bus.subscribe('inbox.1', (p) => got.push(`b:${String(p)}`));
    bus.publish('inbox.1', 2);
    offA();
    bus.publish('inbox.1', 3);
    offA(); // a second call changes nothing
    bus.publish('inbox.2', 'elsewhere');
    offB();
    bus.publish('inbox.1', 4);
    expect(got).toEqual(['a:1', 'a:2', 'b:2', 'b:3']);
  });

  it('lets a handler unsubscribe itself while a publish is under way', () => {
    const bus = new LocalBus();
    const got: string[] = [];
    const off = bus.subscribe('s', () => {
      got.push('once');
      off();
    });
    bus.subscribe('s', () => got.push('always'));
    bus.publish('s', null);
    bus.publish('s', null);
    expect(got).toEqual(['once', 'always', 'always']);
  });
});
