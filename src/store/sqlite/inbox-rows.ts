import type { AccountId, Group, GroupChange, GroupNotice, InboxItem } from '../../core/types.js';
import { unpackReceipt } from './receipt-body.js';

/** How inbox rows are stored: one kind code per item kind, and the row <-> item mapping. */

export const KIND_MSG = 1;
export const KIND_RECEIPT = 2;
export const KIND_GROUP = 3;
/** A message the account sent itself, for its other devices (body: the sending device). */
export const KIND_SENT = 4;
/** A read on one device, for the others (mid: the read mark; body: `[conv, device]`). */
export const KIND_READ = 5;

/** readInbox rows come as arrays (better-sqlite3's raw mode), which skips building an object per row. */
export type InboxRow = [
  seq: number,
  kind: number,
  body: string | Buffer | null,
  mid: number | null,
  sender: number | null,
  conv: number | null,
  text: string | null,
  ts: number | null,
  at: number | null,
];
/** An InboxRow with its user, as the tail is warmed at open. */
export type UnackedRow = [...InboxRow, user: AccountId];

export function toInboxItem([seq, kind, body, mid, sender, conv, text, ts, at]:
  InboxRow | UnackedRow): InboxItem {
  if (kind === KIND_MSG) {
    return {
      seq,
      kind: 'msg',
      msg: { mid: mid!, from: sender!, to: conv!, text: text!, ts: ts!, at: at! },
    };
  }
  if (kind === KIND_RECEIPT) return { seq, kind: 'receipt', receipt: unpackReceipt(mid!, body!) };
  if (kind === KIND_SENT) {
    const msg = { mid: mid!, from: sender!, to: conv!, text: text!, ts: ts!, at: at! };
    return { seq, kind: 'sent', msg, device: Number(body) };
  }
  if (kind === KIND_READ) {
    const [readConv, device] = JSON.parse(body as string) as [number, number];
    return { seq, kind: 'read', conv: readConv, mid: mid!, device };
  }
  return { seq, kind: 'group', ...groupNotice(JSON.parse(body as string) as GroupNotice | Group) };
}

/** Notices of schema version 2 and before stored the bare group as it was created. */
function groupNotice(stored: GroupNotice | Group): GroupNotice {
  if ('change' in stored) return stored;
  const group: Group = { ...stored, admins: stored.admins ?? [] };
  return { group, change: creation(group), names: group.members.map(() => null) };
}

/** The change that made a group: the first notice of every group. */
export function creation(group: Group): GroupChange {
  return { action: 'create', by: group.creator, affected: [], ts: group.ts, at: group.at };
}
