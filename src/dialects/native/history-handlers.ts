import { MensageiroError } from '../../core/errors.js';
import { historyMessageFrame } from './frames.js';
import { bad, echoCid, optionalSeq, recipientOf, type NativeHandler } from './requests.js';

/** History pages and the conversation list: what a fresh device rebuilds itself from. */

const HISTORY_LIMIT = { default: 50, max: 200 };
const CONVERSATIONS_LIMIT = { default: 100, max: 500 };

function limitOf(value: unknown, bounds: { default: number; max: number }): number {
  if (value === undefined || value === null) return bounds.default;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > bounds.max) {
    throw bad(`limit must be an integer from 1 to ${bounds.max}`);
  }
  return value;
}

const history: NativeHandler = async (request, frame) => {
  const wanted = recipientOf(frame, 'conv');
  const limit = limitOf(frame.limit, HISTORY_LIMIT);
  const before = optionalSeq(frame, 'before');
  const found = await request.hub.resolve(wanted);
  if (!found) throw new MensageiroError('unknown_recipient', `unknown contact ${wanted}`);
  const conv = found.kind === 'user' ? found.account.id : found.group.id;
  const page = await request.hub.store.history(request.account.id, conv, before, limit);
  request.reply({
    type: 'history',
    ...echoCid(frame),
    conv,
    messages: page.messages.map(historyMessageFrame),
    more: page.more,
  });
};

const conversations: NativeHandler = async (request, frame) => {
  const limit = limitOf(frame.limit, CONVERSATIONS_LIMIT);
  const list = await request.hub.store.conversations(request.account.id, limit);
  request.reply({
    type: 'conversations',
    ...echoCid(frame),
    conversations: list.map((c) => ({
      conv: c.conv,
      kind: c.kind,
      name: c.name,
      ...(c.members ? { members: c.members } : {}),
      last: c.last ? historyMessageFrame(c.last) : null,
      unread: c.unread,
    })),
  });
};

/** Per-member state of one message you sent: a group message is read once all have read it. */
const messageInfo: NativeHandler = async (request, frame) => {
  const mid = optionalSeq(frame, 'mid');
  if (mid === null) throw bad('message.info needs "mid"');
  const info = await request.hub.store.messageReceipts(request.account.id, mid);
  if (!info) throw bad(`you sent no message ${mid}`);
  request.reply({
    type: 'message.info',
    ...echoCid(frame),
    mid,
    conv: info.conv,
    members: info.states.map((s) => ({ id: s.member, name: s.name, status: s.status })),
  });
};

export const HISTORY_HANDLERS: Record<string, NativeHandler> = {
  history,
  conversations,
  'message.info': messageInfo,
};
