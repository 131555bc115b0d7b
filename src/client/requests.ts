import { EventEmitter } from 'node:events';
import { MensageiroError } from '../core/errors.js';

interface Pending<T> {
  resolve: (value: T) => void;
  reject: (error: MensageiroError) => void;
}

/** Requests waiting for their answer, by the client id (`cid`) the answer carries back. */
export class RequestTable<T> {
  private readonly waiting = new Map<string, Pending<T>>();

  add(cid: string): Promise<T> {
    return new Promise((resolve, reject) => this.waiting.set(cid, { resolve, reject }));
  }

  has(cid: string): boolean {
    return this.waiting.has(cid);
  }

  settle(cid: string, value: T): void {
    this.waiting.get(cid)?.resolve(value);
    this.waiting.delete(cid);
  }

  fail(cid: string, error: MensageiroError): void {
    this.waiting.get(cid)?.reject(error);
    this.waiting.delete(cid);
  }

  failAll(error: MensageiroError): void {
    for (const waiter of this.waiting.values()) waiter.reject(error);
    this.waiting.clear();
  }
}

/** An emitter's events, named in `names`, as an async iterator until `signal` aborts. */
export async function* eventsOf<E>(
  emitter: EventEmitter,
  names: readonly string[],
  signal?: AbortSignal,
): AsyncGenerator<E> {
  const queue: E[] = [];
  let wake: (() => void) | null = null;
  const handlers = names.map((type) => {
    const handler = (data: unknown) => {
      queue.push({ type, data } as E);
      wake?.();
    };
    emitter.on(type, handler);
    return [type, handler] as const;
  });
  try {
    while (!signal?.aborted) {
      if (queue.length > 0) {
        yield queue.shift()!;
        continue;
      }
      await new Promise<void>((resolve) => {
        wake = resolve;
        signal?.addEventListener('abort', () => resolve(), { once: true });
      });
      wake = null;
    }
  } finally {
    for (const [type, handler] of handlers) emitter.off(type, handler);
  }
}
