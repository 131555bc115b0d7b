/** Account and group ids share one namespace of integers in [1, 10^13). */
export type AccountId = number;

export const MAX_ACCOUNT_ID = 10_000_000_000_000;
export const MAX_GROUP_SIZE = 8;

export interface Account {
  id: AccountId;
  username: string | null;
  secretHash: string | null;
  createdAt: number;
}

export interface Group {
  id: AccountId;
  name: string;
  creator: AccountId;
  /** Every member, the creator included, in the order given at creation. */
  members: AccountId[];
  /** The creator's own POSIX seconds, as zap 10 carries them. */
  ts: number;
  at: number;
}

export interface StoredMessage {
  /** Server message id, global and increasing. */
  mid: number;
  from: AccountId;
  /** The recipient user, or the group id for a group message. */
  to: AccountId;
  /** The sender's client message id, the key for dedup of resends. */
  cid: string | null;
  text: string;
  /** The sender's POSIX seconds (zap carries them; others get the server's). */
  ts: number;
  /** Server time of acceptance, ms since the epoch. */
  at: number;
}

export type ReceiptStatus = 'delivered' | 'read';

/**
 * A receipt is a watermark: every message the recipient of this item sent in `conv`,
 * up to `mid` (or client time `ts`), has reached the state `status`.
 */
export interface Receipt {
  status: ReceiptStatus;
  /** Who received or read: the peer for a 1:1 chat, the group id when every member has it. */
  by: AccountId;
  /** The conversation from the originator's side: the peer's id, or the group id. */
  conv: AccountId;
  mid: number;
  ts: number;
  at: number;
}

/** A message as its recipients get it: the sender's client id is the sender's own business. */
export type DeliveredMessage = Omit<StoredMessage, 'cid'>;

/** One entry of a user's ordered inbox stream; `seq` is per recipient, with no gaps. */
export type InboxItem =
  | { seq: number; kind: 'msg'; msg: DeliveredMessage }
  | { seq: number; kind: 'receipt'; receipt: Receipt }
  | { seq: number; kind: 'group'; group: Group };

export interface Delivery {
  to: AccountId;
  item: InboxItem;
}
