import { EventEmitter } from 'node:events';
import { MensageiroError } from '../core/errors.js';

interface Pending<T> {
  resolve: (value: T) => void;
  reject: (error: MensageiroError) => void;
}

/** Requests waiting for their answer, by kind and client id, settled in the order they went. */
export class RequestTable<T> {
  private readonly waiting = new Map<string, Array<Pending<T>>>();

  add(kind: string, key: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const id = `${kind}:${key}`;
      const list = this.waiting.get(id) ?? [];
      list.push({ resolve, reject });
      this.waiting.set(id, list);
    });
  }

  has(kind: string, key: string): boolean {
    return this.waiting.has(`${kind}:${key}`);
  }

  settle(kind: string, key: string, value: T): void {
    this.take(kind, key)?.resolve(value);
  }

  fail(kind: string, key: string, error: MensageiroError): void {
    this.take(kind, key)?.reject(error);
  }

  failAll(error: MensageiroError): void {
    for (const waiters of this.waiting.values()) for (const waiter of waiters) waiter.reject(error);
    this.waiting.clear();
  }

  private take(kind: string, key: string): Pending<T> | undefined {
    const id = `${kind}:${key}`;
    const list = this.waiting.get(id);
    const waiter = list?.shift();
    if (list?.length === 0) this.waiting.delete(id);
    return waiter;
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
