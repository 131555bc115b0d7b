/** Account and group ids share one namespace of integers in [1, 10^13). */
export type AccountId = number;

export const MAX_ACCOUNT_ID = 10_000_000_000_000;
/** Seed 002's limit, creator included; `--max-group-size` overrides it. */
export const MAX_GROUP_SIZE = 8;
/** The device of connections that have none: accounts without a secret share one cursor. */
export const NO_DEVICE = 0;

export interface Account {
  id: AccountId;
  username: string | null;
  secretHash: string | null;
  /** Shown instead of the username where set. */
  displayName: string | null;
  createdAt: number;
}

/** One signed-in installation of an account with a secret; ids are small and per account. */
export interface DeviceInfo {
  account: AccountId;
  device: number;
  name: string | null;
  createdAt: number;
}

export interface Group {
  id: AccountId;
  name: string;
  creator: AccountId;
  /** Every current member, in the order they joined (the creator first, while a member). */
  members: AccountId[];
  /** Members who may add, remove and rename besides the creator. */
  admins: AccountId[];
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
export type DeliveredMessage = Omit<StoredMessage, 'cid'> & {
  /** The sender's display name, else username, when the item is read; null when neither. */
  fromName?: string | null;
};

export type GroupAction = 'create' | 'add' | 'remove' | 'leave' | 'rename' | 'admins';

/** What one group notice says happened. */
export interface GroupChange {
  action: GroupAction;
  by: AccountId;
  /** The members added, removed or gone, or the new admins; empty for create and rename. */
  affected: AccountId[];
  /** The change's POSIX seconds (the creator's own for create). */
  ts: number;
  at: number;
}

/** A group notice: the group after the change, and each member's name then. */
export interface GroupNotice {
  group: Group;
  change: GroupChange;
  /** Parallel to group.members. */
  names: Array<string | null>;
}

export type MessageStatus = 'sent' | 'delivered' | 'read';

/** One message of a conversation's history, from the asker's side. */
export interface HistoryMessage extends DeliveredMessage {
  status: MessageStatus;
}

/** Where one sent message is, for each of the others in its conversation. */
export interface MessageReceipts {
  mid: number;
  conv: AccountId;
  states: Array<{ member: AccountId; name: string | null; status: MessageStatus }>;
}

export interface ConversationSummary {
  /** The peer's id, or the group's. */
  conv: AccountId;
  kind: 'user' | 'group';
  /** The peer's display name or username, or the group's name. */
  name: string | null;
  /** A group's current members. */
  members?: AccountId[];
  last: HistoryMessage | null;
  /** Messages from others after the asker's read mark. */
  unread: number;
}

/** One entry of a user's ordered inbox stream; `seq` is per recipient, with no gaps. */
export type InboxItem =
  | { seq: number; kind: 'msg'; msg: DeliveredMessage }
  | { seq: number; kind: 'receipt'; receipt: Receipt }
  | ({ seq: number; kind: 'group' } & GroupNotice)
  /** A message the account itself sent from `device`, for its other devices. */
  | { seq: number; kind: 'sent'; msg: DeliveredMessage; device: number }
  /** The account read `conv` up to `mid` on `device`, for its other devices. */
  | { seq: number; kind: 'read'; conv: AccountId; mid: number; device: number };

export interface Delivery {
  to: AccountId;
  item: InboxItem;
}
