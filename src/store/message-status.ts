import type { AccountId, HistoryMessage, MessageStatus, Receipt } from '../core/types.js';

/** Another participant of a conversation, as far as the receipt marks say, for one sender. */
export interface Participant {
  member: AccountId;
  /** Messages after this mid reached them (they joined then; 0 for a 1:1 peer). */
  since: number;
  read: number;
  delivered: number;
}

/** Where message `mid` is for one participant. */
export function participantStatus(participant: Participant, mid: number): MessageStatus {
  return participant.read >= mid ? 'read' : participant.delivered >= mid ? 'delivered' : 'sent';
}

/**
 * The status of each message of one conversation as `user` sees it: another's message by the
 * user's own read mark, the user's own by everyone who was in when it was sent.
 */
export function statusRule(
  user: AccountId,
  myReadMark: number,
  others: Participant[],
): (mid: number, from: AccountId) => MessageStatus {
  return (mid, from) => {
    if (from !== user) return mid <= myReadMark ? 'read' : 'delivered';
    // Those who were in when it was sent: a member added later never gets it.
    const audience = others.filter((o) => o.since < mid);
    if (audience.length === 0) return 'sent';
    if (audience.every((o) => o.read >= mid)) return 'read';
    return audience.every((o) => o.delivered >= mid) ? 'delivered' : 'sent';
  };
}

/** A message as a history page or the conversation list shows it, in every backend alike. */
export function historyMessage(
  message: { mid: number; from: AccountId; to: AccountId; text: string; ts: number; at: number },
  fromName: string | null,
  status: MessageStatus,
): HistoryMessage {
  const { mid, from, to, text, ts, at } = message;
  return { mid, from, to, text, ts, at, ...(fromName === null ? {} : { fromName }), status };
}

/** The read receipt `reader` gives for `conv` (a peer's id or a group's), up to message `last`. */
export function readReceiptUpTo(
  reader: AccountId,
  conv: AccountId,
  last: { mid: number; ts: number },
  at: number,
): Receipt {
  return { status: 'read', by: reader, conv, mid: last.mid, ts: last.ts, at };
}
