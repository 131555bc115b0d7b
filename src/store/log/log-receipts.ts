import type { ReadMark } from '../../core/ports.js';
import { readReceiptUpTo } from '../message-status.js';
import type { AccountId, Delivery, Receipt } from '../../core/types.js';
import { upperBound, type Entry, type GroupState, type LogState, type Row } from './log-state.js';
import type { StoredEntry } from './message-columns.js';

/** How far back a 1:1 read receipt looks, as the SQLite store (sqlite-store.ts) does. */
const READ_RECEIPT_WALK = 10_000;

/**
 * Delivery acks and read marks, and the receipts they make: watermarks, one per (sender,
 * conversation) per write. Like LogState's writes, these change nothing before they can no
 * longer fail.
 */
export class LogReceipts {
  /** The commit the writes now applied land in, and the receipts appended in it per recipient. */
  private commit = -1;
  private readonly inCommit = new Map<AccountId, Receipt[]>();

  constructor(private readonly state: LogState) {}

  /** Called before each ack or read with the number of the commit (the file's batch) it is in. */
  startWrite(commit: number): void {
    if (commit === this.commit) return;
    this.commit = commit;
    this.inCommit.clear();
  }

  /**
   * A receipt for `to`, or null when this commit already appended one of the same conversation,
   * peer and status: that one is moved in place, and its delivery (not yet settled, since the
   * commit is not on disk) carries the new mark.
   */
  private receipt(to: AccountId, receipt: Receipt): Delivery | null {
    const appended = this.inCommit.get(to);
    const same = appended?.find(
      (r) => r.conv === receipt.conv && r.by === receipt.by && r.status === receipt.status,
    );
    if (same) {
      Object.assign(same, receipt);
      return null;
    }
    if (appended) appended.push(receipt);
    else this.inCommit.set(to, [receipt]);
    return this.state.appendReceipt(to, receipt);
  }

  ackDelivered(user: AccountId, upToSeq: number, at: number, device: number): Delivery[] {
    const row = this.state.user(user);
    if (!row) return [];
    const upTo = Math.min(upToSeq, row.inbox.length);
    if (device > 0) {
      // The device's own cursor; the account's watermark below moves only past every device.
      const entry = row.devices.get(device);
      if (entry && upTo > entry.cursor) entry.cursor = upTo;
    }
    if (upTo <= row.delivered) return [];
    const ranges = this.lastPerConversation(row, row.delivered, upTo);
    row.delivered = upTo;
    const deliveries: Delivery[] = [];
    for (const { sender, conv, mid, ts } of ranges) {
      if (conv === user) {
        const delivery = this.receipt(sender, { status: 'delivered', by: user, conv: user, mid, ts, at });
        if (delivery) deliveries.push(delivery);
      } else {
        const delivered = this.state.groupOf(conv)?.delivered;
        if (delivered && (delivered.get(user) ?? 0) < mid) delivered.set(user, mid);
      }
    }
    // Only once this member's group watermarks are all raised can the group receipts be known.
    for (const { sender, conv } of ranges) {
      if (conv === user) continue;
      const receipt = this.groupDeliveryReceipt(conv, sender, at);
      if (receipt) deliveries.push(receipt);
    }
    return deliveries;
  }

  markRead(reader: AccountId, conv: AccountId, mark: ReadMark, at: number, device: number): Delivery[] {
    const deliveries = this.readReceipts(reader, conv, mark, at);
    if (deliveries === null) return [];
    // The reader's own mark: what `mid` says, or the newest message the receipts found.
    let readMid = 'mid' in mark ? mark.mid : 0;
    for (const { item } of deliveries)
      if (item.kind === 'receipt') readMid = Math.max(readMid, item.receipt.mid);
    if (
      readMid > 0 &&
      this.raiseReadMark(reader, conv, readMid) &&
      (this.state.user(reader)?.devices.size ?? 0) > 1
    ) {
      const entry: Entry = { kind: 'read', conv, mid: readMid, device };
      deliveries.push(
        this.state.appendItem(reader, entry, (seq) => ({ seq, kind: 'read', conv, mid: readMid, device })),
      );
    }
    return deliveries;
  }

  /** Each (sender, conversation) among the messages of (after, upTo], with its last message. */
  private lastPerConversation(row: Row, after: number, upTo: number) {
    const found: Array<{ sender: AccountId; conv: AccountId; mid: number; ts: number }> = [];
    for (let seq = after + 1; seq <= upTo; seq++) {
      const entry = row.inbox[seq - 1];
      if (typeof entry !== 'number') continue;
      const messages = this.state.messages;
      const sender = messages.from(entry);
      const conv = messages.to(entry);
      const same = found.find((f) => f.sender === sender && f.conv === conv);
      if (same) {
        same.mid = entry;
        same.ts = messages.ts(entry);
      } else found.push({ sender, conv, mid: entry, ts: messages.ts(entry) });
    }
    return found.sort((a, b) => a.sender - b.sender || a.conv - b.conv);
  }

  /** A group message is delivered once every member but its sender has it. */
  private groupDeliveryReceipt(gid: AccountId, sender: AccountId, at: number): Delivery | null {
    const state = this.state.groupOf(gid);
    if (!state) return null;
    let everyone = Number.MAX_SAFE_INTEGER;
    for (const member of state.group.members) {
      if (member !== sender) everyone = Math.min(everyone, state.delivered.get(member) ?? 0);
    }
    const last = this.lastFromUpTo(state, sender, everyone);
    if (!last || last.mid <= this.state.receiptMark(sender, gid, gid, 'delivered')) return null;
    this.state.receiptMarks.set(`${sender}:${gid}:${gid}:delivered`, last.mid);
    return this.receipt(sender, {
      status: 'delivered',
      by: gid,
      conv: gid,
      mid: last.mid,
      ts: last.ts,
      at,
    });
  }

  /** `sender`'s last message in the group within the mark (a mid, or client time). */
  private lastFromUpTo(
    state: GroupState,
    sender: AccountId,
    mark: number | ReadMark,
  ): StoredEntry | undefined {
    const mids = state.bySender.get(sender) ?? [];
    if (typeof mark === 'number' || 'mid' in mark) {
      const upTo = typeof mark === 'number' ? mark : mark.mid;
      const at = upperBound(mids, upTo);
      return at > 0 ? this.state.message(mids[at - 1]!) : undefined;
    }
    for (let i = mids.length - 1; i >= 0; i--) {
      if (this.state.messages.ts(mids[i]!) <= mark.ts) return this.state.message(mids[i]!);
    }
    return undefined;
  }

  /** Null when `conv` is no conversation of the reader's (no such account, or not a member). */
  private readReceipts(reader: AccountId, conv: AccountId, mark: ReadMark, at: number): Delivery[] | null {
    const row = this.state.rows.get(conv);
    if (!row) return null;
    const deliveries: Delivery[] = [];
    if (row.group) {
      if (!row.group.group.members.includes(reader)) return null;
      const senders = [...row.group.bySender.keys()].filter((s) => s !== reader).sort((a, b) => a - b);
      for (const sender of senders) {
        const delivery = this.readReceipt(reader, conv, sender, mark, at);
        if (delivery) deliveries.push(delivery);
      }
    } else {
      const delivery = this.readReceipt(reader, reader, conv, mark, at);
      if (delivery) deliveries.push(delivery);
    }
    return deliveries;
  }

  private readReceipt(
    reader: AccountId,
    receiptConv: AccountId,
    sender: AccountId,
    mark: ReadMark,
    at: number,
  ) {
    const already = this.state.receiptMark(sender, receiptConv, reader, 'read');
    const last =
      receiptConv === reader
        ? this.lastDirectUpTo(reader, sender, mark, already)
        : this.lastFromUpTo(this.state.groupOf(receiptConv)!, sender, mark);
    if (!last || last.mid <= already) return null;
    this.state.receiptMarks.set(`${sender}:${receiptConv}:${reader}:read`, last.mid);
    return this.receipt(sender, readReceiptUpTo(reader, receiptConv, last, at));
  }

  /** The last message from `sender` to `reader` within the mark, no further back than `already`. */
  private lastDirectUpTo(reader: AccountId, sender: AccountId, mark: ReadMark, already: number) {
    if ('mid' in mark) {
      const named = this.state.message(mark.mid);
      if (named && named.from === sender && named.to === reader && !named.group) {
        return mark.mid > already ? named : undefined;
      }
    }
    const inbox = this.state.rows.get(reader)?.inbox ?? [];
    let walked = 0;
    const messages = this.state.messages;
    for (let i = inbox.length - 1; i >= 0 && walked < READ_RECEIPT_WALK; i--) {
      const mid = inbox[i];
      if (typeof mid !== 'number' || messages.to(mid) !== reader) continue;
      walked++;
      if (mid <= already) return undefined;
      if (messages.from(mid) === sender && ('mid' in mark ? mid <= mark.mid : messages.ts(mid) <= mark.ts))
        return this.state.message(mid);
    }
    return undefined;
  }

  private raiseReadMark(owner: AccountId, conv: AccountId, mid: number): boolean {
    let marks = this.state.readMarks.get(owner);
    if (!marks) this.state.readMarks.set(owner, (marks = new Map()));
    if (mid <= (marks.get(conv) ?? 0)) return false;
    marks.set(conv, mid);
    return true;
  }
}
