import type { MensageiroError } from '../../core/errors.js';
import type { SignedIn } from '../../core/hub.js';
import type { DeliveredMessage, GroupNotice, HistoryMessage, InboxItem } from '../../core/types.js';
import type { NativeObject } from './codec.js';

/** Server-to-client frame shapes of the native dialect; docs/protocols.md lists them all. */

export function itemFrame(item: InboxItem): NativeObject {
  switch (item.kind) {
    case 'msg':
    case 'sent': {
      const { msg } = item;
      // `id` stays the sender's, as seed 000 says; server additions go under other names. A
      // `sent` item is the account's own message, for its other devices: `id` is the account.
      return {
        type: 'msg',
        id: msg.from,
        to: msg.to,
        text: msg.text,
        ...fromName(msg),
        mid: msg.mid,
        seq: item.seq,
        at: msg.at,
        ts: msg.ts,
      };
    }
    case 'read':
      return { type: 'read', conv: item.conv, mid: item.mid, seq: item.seq };
    case 'receipt': {
      const { receipt } = item;
      return {
        type: 'receipt',
        status: receipt.status,
        by: receipt.by,
        conv: receipt.conv,
        mid: receipt.mid,
        ts: receipt.ts,
        at: receipt.at,
        seq: item.seq,
      };
    }
    case 'group':
      return { ...groupFrame(item), seq: item.seq };
  }
}

/** A group notice (`group` frame), also the answer to `group.info`. */
export function groupFrame({ group, change, names }: GroupNotice): NativeObject {
  return {
    type: 'group',
    gid: group.id,
    name: group.name,
    creator: group.creator,
    admins: group.admins,
    members: group.members,
    names,
    change: change.action,
    by: change.by,
    affected: change.affected,
    ts: change.ts,
    at: change.at,
  };
}

/** One message of a `history` page or a conversation's `last`. */
export function historyMessageFrame(msg: HistoryMessage): NativeObject {
  return {
    mid: msg.mid,
    from: msg.from,
    ...fromName(msg),
    to: msg.to,
    text: msg.text,
    at: msg.at,
    ts: msg.ts,
    status: msg.status,
  };
}

function fromName(msg: DeliveredMessage): NativeObject {
  return msg.fromName == null ? {} : { from_name: msg.fromName };
}

/**
 * The JSON of itemFrame(item), exactly as JSON.stringify writes it, and its size in UTF-8
 * bytes, which the frame's header needs. Messages and receipts, the bulk of every drain, are
 * written from a template, which takes half the time of stringifying an object; every field but
 * a message's text is ASCII, so only the text is counted: the bytes of the whole JSON cost as
 * much as building it (counting flattens the template's string first).
 */
export function sizedItemJson(item: InboxItem): { json: string; bytes: number } {
  if (item.kind === 'msg' || item.kind === 'sent') {
    const { msg } = item;
    const text = JSON.stringify(msg.text);
    // The name is not ASCII-only either, so it is counted like the text; each is counted on its
    // own, since counting a concatenation would copy a long text first.
    const name = msg.fromName == null ? '' : `,"from_name":${JSON.stringify(msg.fromName)}`;
    const json = `{"type":"msg","id":${idText(msg.from)},"to":${idText(msg.to)},"text":${text}${name},"mid":${msg.mid},"seq":${item.seq},"at":${timeText(msg.at)},"ts":${msg.ts}}`;
    const wide = text.length + name.length;
    return {
      json,
      bytes: json.length - wide + Buffer.byteLength(text, 'utf8') + Buffer.byteLength(name, 'utf8'),
    };
  }
  if (item.kind === 'receipt') {
    // Nearly one receipt per message under load; its status is one of two fixed words, and all
    // of it is ASCII.
    const { receipt } = item;
    const json = `{"type":"receipt","status":"${receipt.status}","by":${idText(receipt.by)},"conv":${idText(receipt.conv)},"mid":${receipt.mid},"ts":${receipt.ts},"at":${timeText(receipt.at)},"seq":${item.seq}}`;
    return { json, bytes: json.length };
  }
  const json = JSON.stringify(itemFrame(item));
  return { json, bytes: Buffer.byteLength(json, 'utf8') };
}

/** The durable ack of a send, echoing the client's own id when it gave one. */
export interface SentAck {
  cid?: string | number;
  mid: number;
  to: number;
  at: number;
  ts: number;
  duplicate: boolean;
}

/**
 * `{"type":"sent", cid?, mid, to, at, ts, duplicate}` (docs/protocols.md), from a template like
 * sizedItemJson's: one of these answers every send.
 */
export function sentJson(ack: SentAck): string {
  const cid = ack.cid === undefined ? '' : `"cid":${JSON.stringify(ack.cid)},`;
  return `{"type":"sent",${cid}"mid":${ack.mid},"to":${idText(ack.to)},"at":${timeText(ack.at)},"ts":${ack.ts},"duplicate":${ack.duplicate}}`;
}

// Ids have 13 digits and times in ms are as large: to V8 both are doubles, and printing one
// costs a shortest-digits conversion each time. The templates above print a few of them per
// frame, so ids are printed once and kept, and the last time printed is kept too (the items of
// one commit mostly share it).
const ID_TEXTS_KEPT = 100_000;
const idTexts = new Map<number, string>();
let lastTime = -1;
let lastTimeText = '';

function idText(id: number): string {
  let text = idTexts.get(id);
  if (text === undefined) {
    if (idTexts.size >= ID_TEXTS_KEPT) idTexts.clear();
    text = String(id);
    idTexts.set(id, text);
  }
  return text;
}

function timeText(time: number): string {
  if (time !== lastTime) {
    lastTime = time;
    lastTimeText = String(time);
  }
  return lastTimeText;
}

/** The answer to a sign-in: who, which device, and where the inbox resumes. */
export function welcomeFrame(
  { account, token, device }: SignedIn,
  state: { last: number; delivered: number },
  resume: number,
): NativeObject {
  return {
    type: 'welcome',
    id: account.id,
    username: account.username,
    display_name: account.displayName,
    token,
    device,
    last: state.last,
    delivered: state.delivered,
    resume,
  };
}

export function errorFrame(error: MensageiroError, extra: NativeObject = {}): NativeObject {
  return { type: 'error', code: error.code, text: error.message, ...extra };
}
