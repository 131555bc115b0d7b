import { MensageiroError } from '../../core/errors.js';
import type {
  AccountId,
  ConversationSummary,
  Group,
  HistoryMessage,
  MessageReceipts,
  MessageStatus,
} from '../../core/types.js';
import { MAX_UNREAD } from '../sqlite/history.js';
import { upperBound, type LogState } from './log-state.js';
import type { StoredEntry } from './message-columns.js';
import { historyMessage, participantStatus, statusRule, type Participant } from '../message-status.js';

/** How far back in a peer's inbox a page looks for its last delivered message (as SQLite's). */
const DELIVERED_WALK = 10_000;

/** Which mids of which index `user` may read of `conv`. */
interface View {
  mids: number[];
  after: number;
  upTo: number;
  group: Group | null;
}

/** History, conversation lists and per-message receipts, read from the in-memory indexes. */
export class LogViews {
  constructor(private readonly state: LogState) {}

  page(
    user: AccountId,
    conv: AccountId,
    before: number | null,
    limit: number,
  ): { messages: HistoryMessage[]; more: boolean } {
    const view = this.view(user, conv);
    const below = Math.min(before ?? Number.MAX_SAFE_INTEGER, view.upTo + 1);
    const mids = newestIn(view, below, limit + 1);
    const status = this.statusFor(user, conv, view.group);
    return {
      messages: mids.slice(0, limit).map((mid) => this.toMessage(this.state.message(mid)!, status)),
      more: mids.length > limit,
    };
  }

  conversations(user: AccountId, limit: number): ConversationSummary[] {
    const row = this.state.rows.get(user);
    if (!row) return [];
    const found: Array<{ conv: AccountId; last: number; group: Group | null }> = [];
    for (const [conv, last] of row.peers) found.push({ conv, last, group: null });
    for (const gid of row.groups) {
      const state = this.state.groupOf(gid);
      const access = state?.access.get(user);
      if (!state || !access) continue;
      const newest = newestIn(
        { mids: state.mids, after: access.from, upTo: 0, group: null },
        (access.to ?? Number.MAX_SAFE_INTEGER - 1) + 1,
        1,
      );
      found.push({ conv: gid, last: newest[0] ?? access.from, group: state.group });
    }
    found.sort((x, y) => y.last - x.last || x.conv - y.conv);
    return found.slice(0, limit).map(({ conv, group }) => {
      const view = this.view(user, conv);
      const status = this.statusFor(user, conv, group);
      const newest = newestIn(view, view.upTo + 1, 1);
      const readMark = Math.max(this.state.readMark(user, conv), view.after);
      let unread = 0;
      for (let i = view.mids.length - 1; i >= 0 && unread < MAX_UNREAD; i--) {
        const mid = view.mids[i]!;
        if (mid <= readMark) break;
        if (mid > view.upTo) continue;
        const from = this.state.messages.from(mid);
        if (group ? from !== user : from === conv) unread++;
      }
      return {
        conv,
        kind: group ? 'group' : 'user',
        name: group ? group.name : this.state.name(conv),
        ...(group ? { members: group.members } : {}),
        last: newest[0] === undefined ? null : this.toMessage(this.state.message(newest[0])!, status),
        unread,
      };
    });
  }

  /** Each other participant's state of a message `user` sent; null for any other message. */
  receiptsOf(user: AccountId, mid: number): MessageReceipts | null {
    const message = this.state.message(mid);
    if (!message || message.from !== user) return null;
    const conv = message.to;
    const states = this.participants(user, conv, this.state.groupOf(conv)?.group ?? null)
      .filter((p) => p.since < mid)
      .map((participant) => ({
        member: participant.member,
        name: this.state.name(participant.member),
        status: participantStatus(participant, mid),
      }));
    return { mid, conv, states };
  }

  private view(user: AccountId, conv: AccountId): View {
    const state = this.state.groupOf(conv);
    if (state) {
      const access = state.access.get(user);
      if (!access) throw new MensageiroError('forbidden', `you were never in group ${conv}`);
      return {
        mids: state.mids,
        after: access.from,
        upTo: access.to ?? Number.MAX_SAFE_INTEGER - 1,
        group: state.group,
      };
    }
    if (!this.state.user(conv)) throw new MensageiroError('unknown_recipient', `unknown contact ${conv}`);
    const mids = this.state.directWith(user, conv);
    return { mids, after: 0, upTo: Number.MAX_SAFE_INTEGER - 1, group: null };
  }

  private statusFor(
    user: AccountId,
    conv: AccountId,
    group: Group | null,
  ): (mid: number, from: AccountId) => MessageStatus {
    const myReadMark = this.state.readMark(user, conv);
    const others = this.participants(user, conv, group);
    return statusRule(user, myReadMark, others);
  }

  /** Who else is in `conv`, with how far each has `user`'s messages and read them. */
  private participants(user: AccountId, conv: AccountId, group: Group | null): Participant[] {
    if (!group) {
      const read = this.state.receiptMark(user, conv, conv, 'read');
      const delivered = this.lastDeliveredMid(conv);
      return [{ member: conv, since: 0, read, delivered: Math.max(delivered, read) }];
    }
    const state = this.state.groupOf(conv)!;
    return group.members
      .filter((member) => member !== user)
      .map((member) => {
        const read = this.state.receiptMark(user, conv, member, 'read');
        const delivered = state.delivered.get(member) ?? 0;
        return {
          member,
          since: state.access.get(member)?.from ?? 0,
          read,
          delivered: Math.max(delivered, read),
        };
      });
  }

  /** The mid of the last message `user` has acked, looking back DELIVERED_WALK items at most. */
  private lastDeliveredMid(user: AccountId): number {
    const row = this.state.rows.get(user);
    if (!row) return 0;
    for (let seq = row.delivered; seq > 0 && seq > row.delivered - DELIVERED_WALK; seq--) {
      const entry = row.inbox[seq - 1];
      if (typeof entry === 'number') return entry;
    }
    return 0;
  }

  private toMessage(
    { mid, from, to, text, ts, at }: StoredEntry,
    statusOf: (mid: number, from: AccountId) => MessageStatus,
  ): HistoryMessage {
    return historyMessage({ mid, from, to, text, ts, at }, this.state.name(from), statusOf(mid, from));
  }
}

/** Up to `count` mids of the view below `below` and after `view.after`, newest first. */
function newestIn(view: View, below: number, count: number): number[] {
  const found: number[] = [];
  for (let i = upperBound(view.mids, below - 1) - 1; i >= 0 && found.length < count; i--) {
    const mid = view.mids[i]!;
    if (mid <= view.after) break;
    found.push(mid);
  }
  return found;
}
