/**
 * The native objects the app exchanges with the server over /ws (docs/protocols.md), typed in
 * one place for every module of the app.
 */

export type Cid = string;

export interface WelcomeFrame {
  type: 'welcome';
  id: number;
  username: string | null;
  display_name?: string | null;
  token: string | null;
  device?: number;
  last: number;
  delivered: number;
  resume: number;
}

export interface MsgFrame {
  type: 'msg';
  id: number;
  to: number;
  text: string;
  mid: number;
  seq: number;
  at: number;
  ts: number;
  from_name?: string;
}

export interface SentFrame {
  type: 'sent';
  cid: Cid;
  mid: number;
  to: number;
  at: number;
  ts: number;
  duplicate: boolean;
}

export interface ReceiptFrame {
  type: 'receipt';
  status: 'delivered' | 'read';
  by: number;
  conv: number;
  mid: number;
  ts: number;
  at: number;
  seq: number;
}

export interface GroupFrame {
  type: 'group';
  gid: number;
  name: string | null;
  creator: number;
  members: number[];
  names?: Array<string | null>;
  admins?: number[];
  change?: string;
  affected?: number[];
  seq?: number;
  at: number;
}

/** Another device of this account read a conversation. */
export interface ReadSyncFrame {
  type: 'read';
  conv: number;
  mid: number;
  seq: number;
}

export interface HistoryMessage {
  mid: number;
  from: number;
  from_name?: string;
  to: number;
  text: string;
  at: number;
  ts: number;
  status: 'sent' | 'delivered' | 'read';
}

export interface HistoryFrame {
  type: 'history';
  cid?: Cid;
  conv: number;
  messages: HistoryMessage[];
  more: boolean;
}

export interface ConversationSummary {
  conv: number;
  kind: 'user' | 'group';
  name: string | null;
  members?: number[];
  last?: HistoryMessage;
  unread: number;
}

export interface ConversationsFrame {
  type: 'conversations';
  cid?: Cid;
  conversations: ConversationSummary[];
}

export interface LookupFrame {
  type: 'lookup';
  cid?: Cid;
  name: string | number;
  id: number;
  kind: 'user' | 'group';
  username?: string | null;
  groupName?: string | null;
}

export interface PresenceFrame {
  type: 'presence';
  id: number;
  online: boolean;
}

export interface LobbyFrame {
  type: 'lobby';
  author: string;
  id: number;
  text: string;
  at: number;
}

export interface ErrorFrame {
  type: 'error';
  code: string;
  text: string;
  cid?: Cid;
}

export type ServerFrame =
  | WelcomeFrame
  | MsgFrame
  | SentFrame
  | ReceiptFrame
  | GroupFrame
  | ReadSyncFrame
  | HistoryFrame
  | ConversationsFrame
  | LookupFrame
  | PresenceFrame
  | LobbyFrame
  | ErrorFrame
  | { type: 'group.created'; gid: number; cid?: Cid }
  | { type: 'group.changed'; gid: number; change: string; cid?: Cid }
  | { type: 'lobby.joined'; members: number }
  | { type: 'logout'; cid?: Cid }
  | { type: 'pong' };

/** Errors that mean the server refused a message for good; anything else is worth a retry. */
export const REFUSALS = new Set([
  'bad_request',
  'unknown_recipient',
  'too_large',
  'forbidden',
  'spoofed_sender',
  'not_signed_in',
]);
