import type { AccountId, StoredMessage } from '../../core/types.js';

/** A stored message, and whether it went to a group. */
export interface StoredEntry extends StoredMessage {
  group: boolean;
}

const FIELDS = 4;

/**
 * Every message by mid, as columns: numbers in one Float64Array, texts and cids in arrays. The
 * state lives on the V8 heap, which every major collection marks; an object per message made
 * that marking the larger part of a send's cost, and these columns hold two strings instead.
 */
export class MessageColumns {
  private numbers = new Float64Array(FIELDS * 4096);
  private groups = new Uint8Array(4096);
  private readonly texts: string[] = [];
  private readonly cids: Array<string | null> = [];

  /** How many messages there are: the last mid. */
  get count(): number {
    return this.texts.length;
  }

  push(message: StoredMessage, group: boolean): void {
    const index = this.texts.length;
    if (index === this.groups.length) this.grow();
    const at = index * FIELDS;
    this.numbers[at] = message.from;
    this.numbers[at + 1] = message.to;
    this.numbers[at + 2] = message.ts;
    this.numbers[at + 3] = message.at;
    this.groups[index] = group ? 1 : 0;
    this.texts.push(message.text);
    this.cids.push(message.cid);
  }

  has(mid: number): boolean {
    return mid >= 1 && mid <= this.texts.length && Number.isInteger(mid);
  }

  from(mid: number): AccountId {
    return this.numbers[(mid - 1) * FIELDS]!;
  }

  to(mid: number): AccountId {
    return this.numbers[(mid - 1) * FIELDS + 1]!;
  }

  ts(mid: number): number {
    return this.numbers[(mid - 1) * FIELDS + 2]!;
  }

  inGroup(mid: number): boolean {
    return this.groups[mid - 1] === 1;
  }

  /** The message as an object of its own; undefined for no such mid. */
  get(mid: number): StoredEntry | undefined {
    if (!this.has(mid)) return undefined;
    const at = (mid - 1) * FIELDS;
    return {
      mid,
      from: this.numbers[at]!,
      to: this.numbers[at + 1]!,
      cid: this.cids[mid - 1]!,
      text: this.texts[mid - 1]!,
      ts: this.numbers[at + 2]!,
      at: this.numbers[at + 3]!,
      group: this.groups[mid - 1] === 1,
    };
  }

  private grow(): void {
    const numbers = new Float64Array(this.numbers.length * 2);
    numbers.set(this.numbers);
    this.numbers = numbers;
    const groups = new Uint8Array(this.groups.length * 2);
    groups.set(this.groups);
    this.groups = groups;
  }
}
